"""``medsearch index --ray [ADDRESS]``: the embedding of a build as a Ray Data job.

Embedding is the long part of a build (``docs/scale.md``: months for all of PubMed on 2
cores). Here it runs as a Ray Data ``map_batches`` over the texts the build would embed,
on a local Ray (no address: this machine, ``workers`` actors) or on a cluster by address,
with the same model and settings, and each finished batch goes into the build's embedding
journal (``search/index/journal.py``) as it arrives. The plain build then runs and finds
every vector there, so it writes the same snapshot (or Milvus collection) as the plain
path; an interrupted job loses only the batches in flight, and a rerun embeds only the rest.

Ray is the ``scale`` extra, imported only here. An address that does not answer is an error
before any work.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import ConfigError, SearchIndexError
from ingest.progress import progress_bar
from search.index.journal import EmbeddingJournal

#: Texts a task embeds: small blocks keep workers evenly loaded (a worker that queued a few
#: blocks of 256 while the others were starting finished alone, measured).
BLOCK = 64
#: Texts a journal file keeps (an interruption loses at most this many finished texts).
BATCH = 256


@dataclass(frozen=True, slots=True)
class RayReport:
    embedded: int  # texts embedded by the job
    skipped: int  # texts already embedded (the previous snapshot, or an interrupted job)
    workers: int
    seconds: float
    cpus_per_worker: int = 1


def require_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--ray needs Ray, which is not installed.",
                          hint="Install the scale extra: pip install -e '.[scale]'") from exc
    return ray


def check_address(address: str | None, timeout: float = 5.0) -> None:
    """A Ray address (``host:port`` or ``ray://host:port``) must answer before any work."""
    if not address or address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"The Ray address {address!r} is not host:port.", hint="E.g. --ray 10.0.0.5:6379.")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise SearchIndexError(f"The Ray cluster at {address} does not answer ({exc.strerror or exc}).",
                               hint="Check the address (ray status on the head node prints it), or run "
                               "--ray without an address for a local Ray.") from None


def pending(store, index_dir: Path, params, previous_hashes: set[str]) -> tuple[list[tuple[str, str]], int]:
    """(text hash, text) of the records the build would embed, and how many it would not."""
    from search.index.documents import iter_documents

    journal = EmbeddingJournal(index_dir, params).vectors()
    seen: set[str] = set()
    todo: list[tuple[str, str]] = []
    skipped = 0
    for doc in iter_documents(store):
        h = doc.text_hash
        if h in seen:
            continue
        seen.add(h)
        if h in previous_hashes or h in journal:
            skipped += 1
        else:
            todo.append((h, doc.text))
    return todo, skipped


class _Embed:
    """One Ray actor: loads the model once, embeds batches of texts on the CPUs Ray gave it.

    The encoder's threads are the actor's CPUs: without that, each actor's ONNX (or torch)
    session would use every core of its node, and actors on one node would contend instead
    of adding up.
    """

    def __init__(self, settings: dict[str, Any], threads: int) -> None:
        from search.retrieval.encoders import load_embedder

        self.embedder = load_embedder(**settings, threads=threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed_documents(list(batch["text"]), batch_size=64)
        return {"hash": batch["hash"], "vector": np.asarray(vectors, dtype=np.float32)}


#: Tries at starting a local Ray: its raylet must register within a fixed 30 s, which a loaded
#: small machine can miss once (seen on 2 shared cores); a second start then succeeds.
LOCAL_START_TRIES = 3


#: Ray's notice, on a local start, that the private Ray it starts for this job has token
#: authentication on: nothing for the user to do (on a cluster, its warnings are kept).
_LOCAL_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def _init(ray: Any, kwargs: dict[str, Any], *, local: bool) -> None:
    """``ray.init``; a local start that timed out is retried (a cluster's address is not)."""
    if local:
        logging.getLogger(_LOCAL_AUTH_LOGGER).setLevel(logging.ERROR)
    for attempt in range(1, (LOCAL_START_TRIES if local else 1) + 1):
        try:
            ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, **kwargs)
            return
        except Exception as exc:  # ray raises a bare Exception for a start-up time-out
            if not local or "timed out during startup" not in str(exc) or attempt == LOCAL_START_TRIES:
                raise
            ray.shutdown()


def _quiet_ray_data() -> None:
    """Ray Data's console lines at WARNING and above only: its INFO lines (the dataset's plan,
    start and end) would interleave with the progress bar. Ray's session log keeps them all.
    Nor its advice to turn its progress bars back on: the job shows its own."""
    import ray.data  # noqa: F401  (configures the "ray.data" logger)

    for handler in logging.getLogger("ray.data").handlers:
        if handler.get_name() == "console":
            handler.setLevel(max(handler.level, logging.WARNING))
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)


def _cores() -> int:
    """The cores this process may use (its affinity, which a container's CPU set narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_counts(workers: int | None, cpus_per_worker: int | None) -> None:
    """``--ray-workers`` and ``--ray-worker-cpus``, where given, are at least 1."""
    for name, value in (("--ray-workers", workers), ("--ray-worker-cpus", cpus_per_worker)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1.", hint=f"E.g. {name} 2, or leave it out.")


def worker_shape(workers: int | None, cpus_per_worker: int | None, *, local: bool,
                 cpus: int | None = None) -> tuple[int, int]:
    """(workers, CPUs per worker) of a job.

    Local Ray: by default one single-threaded worker per core of this machine (``cpus``);
    fewer workers share the cores out. A cluster: one CPU per worker unless told, and as many
    workers as the cluster has CPUs (``cpus``, asked of the cluster) unless told. The counts
    given are checked first (:func:`check_counts`).
    """
    total = max(1, cpus or 1)
    if cpus_per_worker is None:
        cpus_per_worker = max(1, total // workers) if (local and workers) else 1
    if workers is None:
        workers = max(1, total // cpus_per_worker)
    return workers, cpus_per_worker


def embed_on_ray(todo: list[tuple[str, str]], journal: EmbeddingJournal, embedder_settings: dict[str, Any], *,
                 address: str | None, workers: int | None = None, cpus_per_worker: int | None = None,
                 skipped: int = 0, batch: int = BATCH, progress: bool = False) -> RayReport:
    """Embed ``todo`` on Ray, each finished batch kept in ``journal`` as it arrives.

    ``workers`` actors of ``cpus_per_worker`` CPUs each (:func:`worker_shape` gives the defaults);
    ``progress``: a bar of the texts kept so far (Ray's own bars stay off).
    """
    ray = require_ray()
    check_address(address)
    check_counts(workers, cpus_per_worker)  # before a cluster is asked
    local = not address
    if not todo:
        return RayReport(0, skipped, workers or 0, 0.0)
    start = time.perf_counter()
    if local:
        n, cpus = worker_shape(workers, cpus_per_worker, local=True, cpus=_cores())
        _init(ray, {"num_cpus": n * cpus}, local=True)
    else:
        _init(ray, {"address": address}, local=False)
    bar = progress_bar(progress, desc="embed on Ray", unit=" text", total=len(todo))
    try:
        if not local:
            n, cpus = worker_shape(workers, cpus_per_worker, local=False,
                                   cpus=int(ray.cluster_resources().get("CPU", 1)))
        _quiet_ray_data()
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        # Ray's memory advice would ask for 4 GB a worker; docs/scale.md sizes workers instead.
        ctx.issue_detectors_config.detectors = []
        # Longest first, as the plain path orders its batches: a block's texts are of one
        # length (little padding: unsorted blocks of 256 cost 40 % more, measured), and the
        # last blocks, which may leave a worker idle, are the quickest.
        ordered = sorted(todo, key=lambda item: -len(item[1]))
        blocks = -(-len(todo) // BLOCK)
        n = min(n, blocks)  # no actor that would load the model and find nothing to do
        ds = ray.data.from_items([{"hash": h, "text": t} for h, t in ordered], override_num_blocks=blocks)
        pool = ray.data.ActorPoolStrategy(size=n, max_tasks_in_flight_per_actor=2)
        out = ds.map_batches(_Embed, fn_constructor_kwargs={"settings": embedder_settings, "threads": cpus},
                             batch_size=BLOCK, compute=pool, num_cpus=cpus, batch_format="numpy")
        done = 0
        for got in out.iter_batches(batch_size=batch, batch_format="numpy"):
            journal.record([str(h) for h in got["hash"]], np.stack(got["vector"]))
            done += len(got["hash"])
            bar.update(len(got["hash"]))
    finally:
        bar.close()
        ray.shutdown()
    return RayReport(done, skipped, n, round(time.perf_counter() - start, 2), cpus)
