"""pyproject.toml holds ranges; requirements/*.lock the exact versions `make` installs, with
hashes. They must agree: every requirement of the environment a lock serves is pinned there,
at a version its range admits, with hashes; `make run`'s lock holds no torch and no CUDA."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: The environment of this machine and CI, where the markers of a requirement are evaluated.
ENV = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}
#: lock file -> the extras of the environment it installs (Makefile: RUN_EXTRAS, DEV_EXTRAS)
LOCKS = {"run.lock": ("app", "summaries", "api", "endpoint"), "dev.lock": tuple(PYPROJECT["optional-dependencies"])}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def pins(lock: str) -> dict[str, list[tuple[Version, bool]]]:
    """name -> [(version, has a hash)] of each pin whose marker holds here."""
    out: dict[str, list[tuple[Version, bool]]] = {}
    lines = (REPO / "requirements" / lock).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = _PIN.match(line)
        if not m:
            continue
        if m.group(3) and not Marker(m.group(3)).evaluate(ENV):
            continue
        hashed = i + 1 < len(lines) and lines[i + 1].strip().startswith("--hash=sha256:")
        out.setdefault(canonicalize_name(m.group(1)), []).append((Version(m.group(2)), hashed))
    return out


def requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """The project's requirements for ``extras``, self-references (medsearch[torch]) expanded."""
    wanted, todo, seen = [], list(extras), set()
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"]]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PYPROJECT["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == "medsearch":
                todo.extend(req.extras)
            else:
                reqs.append(req)
    for req in reqs:
        if req.marker is None or req.marker.evaluate(ENV):
            wanted.append(req)
    return wanted


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_requirement_is_pinned_in_the_lock_within_its_range_with_hashes(lock: str) -> None:
    locked = pins(lock)
    problems = []
    for req in requirements(LOCKS[lock]):
        got = locked.get(canonicalize_name(req.name))
        if not got:
            problems.append(f"{req.name}: required ({req}) but not in requirements/{lock}")
            continue
        for version, hashed in got:
            if not req.specifier.contains(version, prereleases=True):
                problems.append(f"{req.name}=={version} in {lock} is outside pyproject's range {req.specifier}")
            if not hashed:
                problems.append(f"{req.name}=={version} in {lock} has no --hash")
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_every_pin_of_the_lock_files_has_a_hash() -> None:
    for lock in LOCKS:
        for name, versions in pins(lock).items():
            assert all(hashed for _, hashed in versions), f"{name} in {lock} has no hash"


def test_make_runs_environment_has_no_torch_and_no_cuda_package() -> None:
    names = set(pins("run.lock"))
    heavy = {n for n in names if n.startswith(("nvidia", "cuda", "triton"))}
    heavy |= names & {"torch", "sentence-transformers", "transformers", "pytest", "playwright"}
    assert not heavy, f"make run would install {sorted(heavy)}"


def test_the_two_locks_agree_on_every_package_they_share() -> None:
    run, dev = pins("run.lock"), pins("dev.lock")
    differ = {n: (run[n], dev[n]) for n in set(run) & set(dev) if {v for v, _ in run[n]} != {v for v, _ in dev[n]}}
    assert not differ, f"run.lock and dev.lock pin different versions: {differ}"


def test_the_dev_lock_takes_torchs_cpu_build() -> None:
    torch = pins("dev.lock")["torch"]
    assert [str(v) for v, _ in torch] == ["2.13.0+cpu"]
    assert not any(n.startswith("nvidia") for n in pins("dev.lock"))
