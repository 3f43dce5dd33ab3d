"""The background process of a job: ``python -m search.jobs.runner JOB_FOLDER``.

It runs the job's ``medsearch`` commands one after the other, as a user would in a terminal
(each takes the store's writer lock, or waits for it), with their output appended to the
job's ``log.txt`` and their progress bars written to ``progress.json``
(``MEDSEARCH_PROGRESS_FILE``, ``ingest/progress.py``). After each command it writes the job's
state to ``job.json``: the step at work, then done, or the failed command's exit status with
its ``error:`` line and hint. A Ctrl-C (SIGINT to the job's process group, ``files.stop``) or
SIGTERM stops the command at work the way Ctrl-C in a terminal does (its finished batches
kept) and the job with it, recorded as stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ingest.progress import PROGRESS_FILE_ENV
from search.jobs.files import LOG_FILE, PROGRESS_FILE, clear_progress, now, read_job, write_job
from search.jobs.job import DONE, FAILED, STOPPED, Job, Step

#: Exit status of a command stopped by Ctrl-C (search/cli).
INTERRUPTED = 130


class _Stop:
    """Set by SIGINT/SIGTERM; passes the request on to the command at work."""

    def __init__(self) -> None:
        self.requested = False
        self.child: subprocess.Popen | None = None

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True
        if self.child is not None and self.child.poll() is None:
            try:
                self.child.send_signal(signal.SIGINT)  # SIGTERM came to the runner alone
            except OSError:
                pass


def medsearch_command() -> list[str]:
    """How to run ``medsearch`` with this interpreter: its console script beside it, or the
    same entry point through ``python -c``."""
    script = Path(sys.executable).parent / "medsearch"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "import sys; from search.entry import main; sys.exit(main())"]


def run(folder: Path) -> Job:
    """Run the job in ``folder`` to its end; its last state."""
    stop = _Stop()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    job = read_job(folder).with_(pid=os.getpid())
    write_job(folder, job)
    for i, step in enumerate(job.steps):
        if stop.requested:
            return _finish(folder, job, STOPPED, None, "Stopped before this step.", None)
        job = job.with_(step=i)
        write_job(folder, job)
        code, error, hint = _run_step(folder, job.db, step, stop)
        if code != 0:
            stopped = stop.requested or code == INTERRUPTED
            return _finish(folder, job, STOPPED if stopped else FAILED, code, error, hint)
    return _finish(folder, job, DONE, 0, None, None)


def _run_step(folder: Path, db: Path, step: Step, stop: _Stop) -> tuple[int, str | None, str | None]:
    """Run one command; its exit status, and on failure its error line and hint."""
    clear_progress(folder)
    log_path = folder / LOG_FILE
    env = {**os.environ, PROGRESS_FILE_ENV: str(folder / PROGRESS_FILE), "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        log.write(f"$ {step.command}\n".encode())
        log.flush()
        offset = log.tell()
        try:
            stop.child = subprocess.Popen([*medsearch_command(), "--db", str(db), *step.args],
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        except OSError as exc:
            return 127, f"`{step.command}` could not start: {exc.strerror or exc}.", None
        code = stop.child.wait()
        stop.child = None
    if code == 0:
        return 0, None, None
    error, hint = error_of(log_path, offset)
    if code < 0:
        error = error or f"`{step.command}` was killed by signal {-code}."
    return code, error or f"`{step.command}` ended with exit status {code}.", hint


def error_of(log: Path, offset: int) -> tuple[str | None, str | None]:
    """The last ``error:`` line a command printed after ``offset`` in ``log`` and the hint
    (``  -> ...``) under it; without one, the last line it printed (a traceback's last line)."""
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None, None
    lines = [x.rstrip() for x in text.replace("\r", "\n").splitlines() if x.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("error: "):
            hint = lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].lstrip().startswith("->") else None
            return lines[i][len("error: "):], hint[2:].strip() if hint else None
    return (lines[-1].strip() if lines else None), None


def _finish(folder: Path, job: Job, status: str, code: int | None, error: str | None, hint: str | None) -> Job:
    job = job.with_(status=status, exit_code=code, error=error, hint=hint, finished_at=now())
    write_job(folder, job)
    return job


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m search.jobs.runner JOB_FOLDER", file=sys.stderr)
        return 2
    folder = Path(args[0])
    try:
        job = run(folder)
    except Exception as exc:  # the runner's own failure: recorded, so the screen can say it
        try:
            _finish(folder, read_job(folder), FAILED, None, f"The background job failed: {exc!r}.",
                    "See log.txt in the job's folder.")
        finally:
            raise
    return 0 if job.status == DONE else 1


if __name__ == "__main__":
    sys.exit(main())
