"""Background jobs: a sequence of ``medsearch`` commands (``ingest ...`` then ``index``, or
``update`` then ``index``) run in a detached process, so the app stays a reader of the index
while the ordinary writer commands fill the store (the one-writer lock applies to them as in a
terminal), and a page reload finds the job again.

- ``search.jobs.job``: the values (:class:`Job`, :class:`Step`, :class:`Progress`);
- ``search.jobs.files``: where jobs live beside the store, :func:`start`, :func:`current`, :func:`stop`;
- ``search.jobs.runner``: the background process itself;
- ``search.jobs.plans``: the jobs the app offers, checked before they start.
"""

from search.jobs.files import current, jobs_dir, load, start, stop
from search.jobs.job import DONE, FAILED, RUNNING, STOPPED, Job, Progress, Step

__all__ = ["DONE", "FAILED", "RUNNING", "STOPPED", "Job", "Progress", "Step", "current", "jobs_dir", "load",
           "start", "stop"]
