"""The progress bar of every long operation (ingest, PubMed fetches, embedding, index, eval)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def progress_bar(
    enabled: bool, *, desc: str, unit: str, total: int | None = None, items: Iterable[Any] | None = None
) -> Any:
    """A tqdm bar on stderr, over ``items`` when given (iterate the bar), else updated by hand.

    ``enabled=False`` hides it; enabled, it shows only where stderr is a terminal (tqdm's
    ``disable=None``), so logs and pipes get no bar. ``unit`` reads after the count
    (" rec", " doc").
    """
    from tqdm import tqdm  # lazy: only the commands that show progress load it

    return tqdm(items, total=total, desc=desc, unit=unit, disable=None if enabled else True,
                dynamic_ncols=True)
