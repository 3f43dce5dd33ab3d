"""What a background job is: its steps (``medsearch`` command lines), its state, its progress.

Pure values and their JSON; the files they live in are ``search/jobs/files.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

RUNNING = "running"
DONE = "done"
FAILED = "failed"
STOPPED = "stopped"  # stopped on request; what it stored is kept
STATUSES = (RUNNING, DONE, FAILED, STOPPED)


@dataclass(frozen=True, slots=True)
class Step:
    """One ``medsearch`` command of a job: what the screen calls it, and its arguments."""

    label: str  # "Loading records from PubMed"
    args: tuple[str, ...]  # ("ingest", "pubmed", "asthma", "--max", "500")

    @property
    def command(self) -> str:
        """The command as a user would type it (for the log and the screen)."""
        import shlex

        return "medsearch " + " ".join(shlex.quote(a) for a in self.args)


@dataclass(frozen=True, slots=True)
class Progress:
    """The state of the running command's progress bar (``ingest/progress.py`` writes it)."""

    stage: str  # the bar's name: "efetch", "ingest", "bm25", "embed"...
    n: int
    total: int | None  # None: the amount of work is not known in advance
    unit: str = ""
    detail: str = ""
    closed: bool = False

    @property
    def fraction(self) -> float | None:
        """Done of this bar, 0..1; None without a total."""
        if not self.total:
            return None
        return max(0.0, min(1.0, self.n / self.total))

    @property
    def text(self) -> str:
        done = f"{self.n:,}" + (f" of {self.total:,}" if self.total else "")
        return f"{self.stage}: {done} {self.unit}".rstrip() + (f" ({self.detail})" if self.detail else "")

    @classmethod
    def from_json(cls, data: Any) -> Progress | None:
        try:
            total = data.get("total")
            return cls(str(data["stage"]), int(data["n"]), None if total is None else int(total),
                       str(data.get("unit") or ""), str(data.get("detail") or ""), bool(data.get("closed")))
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class Job:
    """One job: a sequence of ``medsearch`` commands run one after the other in a background process.

    ``step`` is the index of the command at work (or the last one run); ``exit_code``, ``error``
    and ``hint`` are those of the command that failed (its ``error:`` line and the ``->`` line
    after it), or of the runner itself."""

    id: str
    kind: str  # "first-run", "update", "index"
    title: str  # "Loading records from PubMed and building the index"
    db: Path
    steps: tuple[Step, ...]
    status: str = RUNNING
    step: int = 0
    started_at: str = ""
    finished_at: str | None = None
    exit_code: int | None = None
    error: str | None = None
    hint: str | None = None
    pid: int | None = None  # the runner's process (the leader of its process group)
    # read from the job's folder, not kept in job.json:
    folder: Path | None = None
    progress: Progress | None = None
    last_line: str | None = None  # the log's last line, e.g. "waiting for ... to finish writing the store"

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def current(self) -> Step:
        return self.steps[min(self.step, len(self.steps) - 1)]

    @property
    def fraction(self) -> float:
        """How much of the whole job is done, 0..1: the finished steps, and the running
        step's own bar where it has a total."""
        if self.status == DONE:
            return 1.0
        within = self.progress.fraction if self.running and self.progress else None
        return max(0.0, min(1.0, (self.step + (within or 0.0)) / max(1, len(self.steps))))

    @property
    def email(self) -> str | None:
        """The e-mail its PubMed command sent to NCBI, if any."""
        for s in self.steps:
            if "--email" in s.args[:-1]:
                return s.args[s.args.index("--email") + 1]
        return None

    def with_(self, **changes: Any) -> Job:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "title": self.title, "db": str(self.db),
            "steps": [{"label": s.label, "args": list(s.args)} for s in self.steps],
            "status": self.status, "step": self.step, "started_at": self.started_at,
            "finished_at": self.finished_at, "exit_code": self.exit_code, "error": self.error,
            "hint": self.hint, "pid": self.pid,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        """A job from its ``job.json``; raises ValueError on a file of another shape."""
        try:
            steps = tuple(Step(str(s["label"]), tuple(str(a) for a in s["args"])) for s in data["steps"])
            status = str(data["status"])
            if status not in STATUSES or not steps:
                raise ValueError(f"status {status!r}, {len(steps)} steps")
            return cls(
                str(data["id"]), str(data["kind"]), str(data["title"]), Path(data["db"]), steps, status,
                int(data["step"]), str(data.get("started_at") or ""), data.get("finished_at"),
                _opt_int(data.get("exit_code")), data.get("error"), data.get("hint"), _opt_int(data.get("pid")),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a job file: {exc!r}") from exc


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
