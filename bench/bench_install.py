"""What an install costs: size on disk, packages, install time from a cold pip cache.

Each configuration is installed into a fresh virtual environment from a clean checkout of a
git revision (``git worktree``-free: ``git archive`` into a temporary folder), with
``pip install --no-cache-dir`` so nothing comes from pip's cache (pip still reads local
find-links and indexes where the machine's pip configuration names them). Then it reports the
size of site-packages (``du``), the number of installed distributions, the largest ones, and
any CUDA/nvidia package. Side by side in one run, since the machine is noisy::

    .venv/bin/python bench/bench_install.py --rev c448f90 --spec "." --spec ".[test,train,summaries]" \\
        --rev HEAD --spec "." --spec "make-run"

``make-run`` installs what ``make run`` installs at that revision (its lock file where one
exists). Configurations run one after the other; each prints one table row.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Result:
    rev: str
    spec: str
    seconds: float
    mb: float
    packages: int
    cuda: list[str]
    largest: list[tuple[str, float]]


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _checkout(rev: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)


def _install_commands(src: Path, py: str, spec: str) -> list[list[str]]:
    pip = [py, "-m", "pip", "install", "--no-cache-dir", "--quiet"]
    if spec != "make-run":
        return [pip + [f"{src}{spec[1:]}" if spec.startswith(".") else spec]]
    lock = src / "requirements" / "run.lock"
    if lock.is_file():  # the light install: the lock, then the project without dependencies
        return [pip + ["--require-hashes", "-r", str(lock)],
                pip + ["--no-deps", f"{src}[app,summaries,api,endpoint]"]]
    # before the lock: what `make install` did
    return [pip + ["torch==2.13.0"], pip + [f"{src}[test,train,summaries]"]]


def measure(rev: str, spec: str) -> Result:
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        root = Path(tmp)
        src = root / "src"
        src.mkdir()
        _checkout(rev, src)
        venv = root / "venv"
        _run([sys.executable, "-m", "venv", str(venv)])
        py = str(venv / "bin" / "python")
        _run([py, "-m", "pip", "install", "--quiet", "--no-cache-dir", "--upgrade", "pip"])
        start = time.perf_counter()
        for cmd in _install_commands(src, py, spec):
            _run(cmd)
        seconds = time.perf_counter() - start
        site = next((venv / "lib").glob("python3*/site-packages"))
        mb = _du_mb(site)
        listed = json.loads(subprocess.run([py, "-m", "pip", "list", "--format", "json"],
                                           capture_output=True, text=True, check=True).stdout)
        names = [d["name"].lower() for d in listed if d["name"].lower() not in ("pip", "setuptools")]
        cuda = sorted(n for n in names if n.startswith(("nvidia", "cuda", "triton")))
        sizes = sorted(((p.name, _du_mb(p)) for p in site.iterdir() if p.is_dir()), key=lambda x: -x[1])
        return Result(rev, spec, seconds, mb, len(names), cuda, sizes[:6])


def _du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rev", action="append", required=True, help="git revision; --spec after it applies to it")
    ap.add_argument("--spec", action="append", default=[], help='".", ".[extra,...]" or "make-run"')
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args, order = ap.parse_args(argv), []
    rev = None
    tokens = sys.argv[1:] if argv is None else argv
    for i, tok in enumerate(tokens):
        if tok == "--rev":
            rev = tokens[i + 1]
        elif tok == "--spec":
            order.append((rev, tokens[i + 1]))
    if shutil.which("du") is None:
        sys.exit("needs du")
    rows = []
    print(f"{'revision':<10} {'install':<28} {'time s':>7} {'MB':>8} {'packages':>8}  CUDA/nvidia")
    for r, spec in order:
        res = measure(r, spec)
        rows.append(res)
        print(f"{r:<10} {spec:<28} {res.seconds:7.0f} {res.mb:8.0f} {res.packages:8d}  {len(res.cuda)}"
              f"  largest: {', '.join(f'{n} {m:.0f}' for n, m in res.largest)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
