"""The progress bar of every long operation (ingest, PubMed fetches, embedding, index, eval).

On a terminal it is tqdm's bar on stderr. A program that runs a command in the background
(the app's jobs, ``search/jobs``) sets :data:`PROGRESS_FILE_ENV` to a file path instead: every
bar then writes its state there as one JSON object, replaced atomically a few times a second
and when the bar closes::

    {"stage": "efetch", "n": 400, "total": 500, "unit": "rec", "detail": "", "closed": false}

(``total`` is null where the amount of work is not known in advance, e.g. records in files.)
This variable is an interface between two of the project's own processes, not a setting.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: The environment variable naming the file a command writes its progress to, as JSON.
PROGRESS_FILE_ENV = "MEDSEARCH_PROGRESS_FILE"
#: The least time between two writes of the progress file, in seconds (closing always writes).
WRITE_EVERY = 0.2


def progress_bar(
    enabled: bool, *, desc: str, unit: str, total: int | None = None, items: Iterable[Any] | None = None
) -> Any:
    """A tqdm bar on stderr, over ``items`` when given (iterate the bar), else updated by hand.

    ``enabled=False`` hides it; enabled, it shows only where stderr is a terminal (tqdm's
    ``disable=None``), so logs and pipes get no bar. ``unit`` reads after the count
    (" rec", " doc").
    """
    from tqdm import tqdm  # lazy: only the commands that show progress load it

    target = os.environ.get(PROGRESS_FILE_ENV)
    if enabled and target:
        return _json_bar(tqdm)(items, total=total, desc=desc, unit=unit, file=_Discard(),
                               progress_file=Path(target))
    return tqdm(items, total=total, desc=desc, unit=unit, disable=None if enabled else True,
                dynamic_ncols=True)


class _Discard:
    """A file that keeps nothing: the JSON bar draws no text."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _json_bar(tqdm: type) -> type:
    """A tqdm whose every redraw writes its state to a JSON file (made here: tqdm loads lazily)."""

    class JsonBar(tqdm):
        def __init__(self, *args: Any, progress_file: Path, **kwargs: Any) -> None:
            self._progress_file = progress_file
            self._written = 0.0
            super().__init__(*args, **kwargs)

        def display(self, msg: str | None = None, pos: int | None = None) -> None:
            if time.monotonic() - self._written >= WRITE_EVERY:
                self._write(closed=False)

        def close(self) -> None:
            was_open = not self.disable  # tqdm disables a bar as it closes it; a second close is a no-op
            super().close()
            if was_open:
                self._write(closed=True)

        def _write(self, *, closed: bool) -> None:
            self._written = time.monotonic()
            state = {"stage": self.desc, "n": int(self.n), "total": self.total, "unit": self.unit.strip(),
                     "detail": self.postfix or "", "closed": closed}
            write_json_atomically(self._progress_file, state)

    return JsonBar


def write_json_atomically(path: Path, obj: Any) -> None:
    """``obj`` as JSON in ``path``, replaced whole (a reader never sees half of it); a failure to
    write progress never stops the work it reports on."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(obj), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
