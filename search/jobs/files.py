"""Where jobs live, starting one, finding it again, stopping it.

Beside the store, ``<db>.jobs/`` holds one folder per job, named so that they sort by start::

    data/medsearch.duckdb.jobs/
        start.lock                      held for the moment a job is being started
        20261207T061502123456/
            job.json                    the job (search/jobs/job.py), written by the runner
            log.txt                     each command line and everything it printed
            progress.json               the running command's progress bar (ingest/progress.py)
            running.lock                flock held by the runner process for as long as it lives

The runner (``search/jobs/runner.py``) is a detached process (its own session): it outlives
the page, the browser tab and the app server that started it, and any number of app processes
find it again here. Whether it still runs is asked of the kernel, not of a pid: the starter
takes ``running.lock`` before the runner exists and hands the open file to it, so the lock is
held from the first moment to the runner's last, and the kernel drops it however the runner
ends (a kill, a crash). One job runs at a time per store.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import JobError
from search.jobs.job import FAILED, Job, Progress, Step

JOB_FILE = "job.json"
LOG_FILE = "log.txt"
PROGRESS_FILE = "progress.json"
RUNNING_LOCK = "running.lock"
#: Finished jobs kept (their folders); older ones go when a job starts.
KEEP = 20

VANISHED = "The background job ended without finishing (its process was killed, or the machine restarted)."
VANISHED_HINT = "Start it again: the records it stored are kept, and the commands go on where they stopped."

#: The runners this process started, polled so that finished ones do not linger as zombies.
_children: list[subprocess.Popen] = []


def jobs_dir(db: Path) -> Path:
    """``data/medsearch.duckdb`` -> ``data/medsearch.duckdb.jobs/``."""
    return db.with_name(db.name + ".jobs")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def start(db: Path, kind: str, title: str, steps: Sequence[Step], *, env: dict[str, str] | None = None) -> Job:
    """Start ``steps`` (``medsearch --db DB ...`` each) in a background process; the new job.

    Raises :class:`JobError` when a job is already running for this store, or the job cannot
    be written or started."""
    if not steps:
        raise JobError("A job needs at least one command.", hint="This is a bug in the caller.")
    db = db.absolute()
    root = jobs_dir(db)
    reap()
    with _start_lock(root):
        running = current(db)
        if running is not None and running.running:
            raise JobError(f"{running.title} is already running (started {running.started_at}).",
                           hint="Wait for it to finish, or stop it, then start this one.")
        _prune(root)
        job = Job(_new_id(root), kind, title, db, tuple(steps), started_at=now())
        folder = root / job.id
        try:
            folder.mkdir()
            write_job(folder, job)
        except OSError as exc:
            raise _cannot(root, exc) from exc
        _spawn(folder, job, env)
    return load(folder)


def _spawn(folder: Path, job: Job, env: dict[str, str] | None) -> None:
    fd = os.open(folder / RUNNING_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with open(folder / LOG_FILE, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "search.jobs.runner", str(folder)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                pass_fds=(fd,), env=env,
            )
        _children.append(proc)
    except OSError as exc:
        write_job(folder, job.with_(status=FAILED, finished_at=now(),
                                    error=f"The background process could not start: {exc.strerror or exc}."))
        raise JobError(f"Cannot start the background job: {exc.strerror or exc}.",
                       hint="Check that the folder of the database is writable, then try again.") from exc
    finally:
        os.close(fd)  # the runner holds the lock from here on


def reap() -> None:
    """Collect the exit status of the runners this process started that have ended."""
    _children[:] = [p for p in _children if p.poll() is None]


def current(db: Path) -> Job | None:
    """The store's latest job (running or not), or None when no job was ever started."""
    reap()
    root = jobs_dir(db.absolute())
    try:
        names = sorted((p.name for p in root.iterdir() if (p / JOB_FILE).is_file()), reverse=True)
    except OSError:
        return None
    for name in names:
        try:
            return load(root / name)
        except JobError:
            continue  # a damaged folder: the one before it is the latest readable job
    return None


def load(folder: Path) -> Job:
    """The job in ``folder``, with its progress and the last line of its log; a job marked
    running whose runner is gone reads as failed."""
    job = read_job(folder)
    if job.running and not is_held(folder / RUNNING_LOCK):
        job = read_job(folder)  # the runner writes its last state before it lets the lock go
        if job.running:
            job = job.with_(status=FAILED, error=VANISHED, hint=VANISHED_HINT)
    progress = None
    if job.running:
        try:
            progress = Progress.from_json(json.loads((folder / PROGRESS_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
    return job.with_(folder=folder, progress=progress, last_line=last_line(folder / LOG_FILE))


def read_job(folder: Path) -> Job:
    try:
        return Job.from_json(json.loads((folder / JOB_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise JobError(f"Cannot read the job in {folder}: {exc}.",
                       hint="Delete that folder; the store is not affected.") from exc


def write_job(folder: Path, job: Job) -> None:
    """``job.json``, replaced whole."""
    path = folder / JOB_FILE
    tmp = folder / f".{JOB_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(job.to_json(), indent=1), encoding="utf-8")
    os.replace(tmp, path)


def clear_progress(folder: Path) -> None:
    """No bar for the step that starts yet (the last step's bar is not this one's)."""
    (folder / PROGRESS_FILE).unlink(missing_ok=True)


def stop(job: Job) -> bool:
    """Ask a running job to stop (Ctrl-C to its commands: each keeps its finished batches);
    False when it is not running."""
    if job.folder is None or job.pid is None or not is_held(job.folder / RUNNING_LOCK):
        return False
    try:
        os.killpg(job.pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    except PermissionError as exc:
        raise JobError(f"Cannot stop the job (pid {job.pid}): {exc.strerror}.",
                       hint="It was started by another user; stop it from a terminal.") from exc
    return True


def is_held(lock: Path) -> bool:
    """Whether a process holds the flock on ``lock`` (a runner that still lives)."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock this call took
    return False


def last_line(log: Path, tail: int = 4096) -> str | None:
    """The last line of ``log`` with text on it (a progress bar's carriage returns split lines)."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - tail))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [x.strip() for x in text.replace("\r", "\n").splitlines() if x.strip()]
    return lines[-1] if lines else None


@contextmanager
def _start_lock(root: Path) -> Iterator[None]:
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / "start.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _cannot(root, exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _cannot(root: Path, exc: OSError) -> JobError:
    return JobError(f"Cannot write the job folder {root}: {exc.strerror or exc}.",
                    hint="The folder of the database must be writable to load records or build the index.")


def _new_id(root: Path) -> str:
    while True:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        if not (root / stamp).exists():  # two starts in one microsecond: take the next
            return stamp
        time.sleep(0.001)


def _prune(root: Path) -> None:
    """Keep the ``KEEP - 1`` latest finished jobs' folders (the new one makes ``KEEP``)."""
    folders = sorted((p for p in root.iterdir() if (p / JOB_FILE).is_file()), key=lambda p: p.name, reverse=True)
    for old in folders[KEEP - 1:]:
        if not is_held(old / RUNNING_LOCK):
            shutil.rmtree(old, ignore_errors=True)


