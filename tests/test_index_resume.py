"""An interrupted index build keeps its finished embedding batches (issue 23, row 6): the
rerun embeds only what the first run had not finished, and the index it publishes is the one
an uninterrupted build gives."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.pipeline import ingest_files
from ingest.store import Store
from search.index.build import IndexManager, IndexSettings
from search.index.journal import FOLDER
from tests.fake_embedder import FakeEmbedder
from tests.test_index import _files

SETTINGS = IndexSettings(embedder=FakeEmbedder.name)


class CtrlC(FakeEmbedder):
    """Embeds ``batches`` batches, then the user presses Ctrl-C in the middle of the next one."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.batches = batches

    def embed_documents(self, texts, *, batch_size=32, progress=False):
        if self.batches == 0:
            raise KeyboardInterrupt
        self.batches -= 1
        return super().embed_documents(texts, batch_size=batch_size, progress=progress)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr("search.retrieval.dense.JOURNAL_BATCH", 16)  # many batches from 163 records
    with Store(tmp_path / "s.duckdb") as s:
        ingest_files(s, _files(), progress=False)
        yield s


def _vectors(manager: IndexManager) -> dict[str, np.ndarray]:
    dense = manager.load().dense
    return dict(zip(dense.doc_ids, dense.vectors, strict=True))


def test_a_rerun_after_ctrl_c_embeds_only_what_was_not_finished(store, tmp_path):
    total = store.count()
    interrupted = CtrlC(batches=4)
    with pytest.raises(KeyboardInterrupt):
        IndexManager(store, tmp_path / "idx", SETTINGS, embedder=interrupted).build_or_update(progress=False)
    finished = len(interrupted.embedded)
    assert 0 < finished < total

    rerun = FakeEmbedder()
    manager = IndexManager(store, tmp_path / "idx", SETTINGS, embedder=rerun)
    report = manager.build_or_update(progress=False)
    assert len(rerun.embedded) == total - finished  # nothing finished is embedded again
    assert set(rerun.embedded).isdisjoint(interrupted.embedded)
    assert (report.dense.embedded, report.dense.kept) == (total - finished, finished)
    assert not (tmp_path / "idx" / FOLDER).exists()  # published: the kept batches are let go

    clean = IndexManager(store, tmp_path / "clean", SETTINGS, embedder=FakeEmbedder())
    clean.build_or_update(progress=False)
    expected, got = _vectors(clean), _vectors(manager)
    assert expected.keys() == got.keys()
    assert all(np.array_equal(expected[d], got[d]) for d in expected)


def test_two_interruptions_in_a_row_lose_no_finished_batch(store, tmp_path):
    total = store.count()
    first, second = CtrlC(batches=2), CtrlC(batches=3)
    for embedder in (first, second):
        with pytest.raises(KeyboardInterrupt):
            IndexManager(store, tmp_path / "idx", SETTINGS, embedder=embedder).build_or_update(progress=False)
    last = FakeEmbedder()
    IndexManager(store, tmp_path / "idx", SETTINGS, embedder=last).build_or_update(progress=False)
    assert len(last.embedded) == total - len(first.embedded) - len(second.embedded)


def test_a_damaged_kept_batch_is_embedded_again(store, tmp_path):
    total = store.count()
    interrupted = CtrlC(batches=1)
    with pytest.raises(KeyboardInterrupt):
        IndexManager(store, tmp_path / "idx", SETTINGS, embedder=interrupted).build_or_update(progress=False)
    for path in (tmp_path / "idx" / FOLDER).rglob("*.npz"):
        path.write_bytes(b"not a batch")
    rerun = FakeEmbedder()
    IndexManager(store, tmp_path / "idx", SETTINGS, embedder=rerun).build_or_update(progress=False)
    assert len(rerun.embedded) == total
