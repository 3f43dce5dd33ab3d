"""The README's layout section and the tree agree: every folder it names exists, every
package folder is named (as a line of its own or as ``name/`` on its parent's line)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layout_lines() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^## Layout\n\n```\n(.*?)^```", text, re.S | re.M)
    assert block, "README.md has no ## Layout code block"
    out = {}
    for line in block.group(1).splitlines():
        head, _, rest = line.partition(" ")
        out[head] = rest
    return out


def _packages() -> list[Path]:
    found = []
    for top in ("ingest", "search", "webapp"):
        found += [p.parent.relative_to(ROOT) for p in (ROOT / top).rglob("__init__.py")]
    return sorted(found)


def test_every_folder_the_layout_names_exists():
    for head in _layout_lines():
        if head.endswith("/"):
            assert (ROOT / head).is_dir(), f"README's layout names {head}, which is not in the tree"
        else:
            assert (ROOT / head).is_file(), f"README's layout names {head}, which is not in the tree"


def test_every_package_folder_is_named_in_the_layout():
    lines = _layout_lines()
    for package in _packages():
        own = f"{package.as_posix()}/"
        parent_line = lines.get(f"{package.parent.as_posix()}/", "")
        named = own in lines or re.search(rf"(?<![\w/]){re.escape(package.name)}/", parent_line)
        assert named, f"{own} is a package folder the README's layout section does not name"


def test_the_layout_has_one_line_per_folder():
    heads = list(_layout_lines())
    assert len(heads) == len(set(heads)), "a folder has two lines in the README's layout section"
