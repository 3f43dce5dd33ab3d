"""The Milvus backend's bad input: each a clear error before any work, exit 2 from the CLI,
nothing half-published, the token never shown."""

from __future__ import annotations

import json
import shutil

import pytest

from ingest.errors import ConfigError, SearchIndexError
from search.config import Settings
from tests.conftest import PUBMED_DATA, run_cli
from tests.engine_snapshot import real_snapshot
from tests.fake_embedder import FakeEmbedder


def test_the_milvus_backend_needs_a_uri():
    with pytest.raises(ConfigError, match="MEDSEARCH_MILVUS_URI") as err:
        Settings.from_env({"MEDSEARCH_BACKEND": "milvus"})
    assert "http://host:19530" in (err.value.hint or "")
    with pytest.raises(ConfigError, match="MEDSEARCH_BACKEND must be one of inprocess, milvus"):
        Settings.from_env({"MEDSEARCH_BACKEND": "elastic"})


def test_without_the_scale_extra_the_setting_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pymilvus" else real(name, *a))
    with pytest.raises(ConfigError, match="needs pymilvus") as err:
        Settings.from_env({"MEDSEARCH_BACKEND": "milvus", "MEDSEARCH_MILVUS_URI": "data/m.db"})
    assert "pip install 'medsearch[scale]'" in (err.value.hint or "")


def test_an_unreachable_server_is_an_error_that_never_shows_the_token():
    from search.retrieval.milvus.connect import Target, connect

    target = Target.from_settings("http://127.0.0.1:1", environ={"MEDSEARCH_MILVUS_TOKEN": "root:s3cret-token"})
    assert "s3cret" not in repr(target) and "s3cret" not in str(target)
    with pytest.raises(SearchIndexError) as err:
        connect(target)
    text = f"{err.value} {err.value.hint}"
    assert "127.0.0.1:1" in text and "s3cret" not in text


@pytest.mark.skipif(not PUBMED_DATA.is_dir(), reason="real data not found")
def test_index_with_an_unreachable_milvus_exits_2_before_building_anything(tmp_path):
    db = tmp_path / "s.duckdb"
    files = sorted((PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml").glob("*.xml"))[:3]
    assert run_cli("ingest", "files", *map(str, files), env={"MEDSEARCH_DB": str(db)}).returncode == 0
    env = {"MEDSEARCH_DB": str(db), "MEDSEARCH_BACKEND": "milvus", "MEDSEARCH_MILVUS_URI": "http://127.0.0.1:1",
           "MEDSEARCH_MILVUS_TOKEN": "root:s3cret-token", "MEDSEARCH_EMBEDDING_MODEL": "none"}
    got = run_cli("index", env=env)
    assert got.returncode == 2, got.stderr
    assert "does not answer" in got.stderr and "s3cret" not in got.stdout + got.stderr
    assert not (tmp_path / "s.index" / "CURRENT").exists()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from search.index.build import default_index_dir
    from search.index.snapshot import load_snapshot
    from search.retrieval.milvus.collection import build_from_snapshot
    from search.retrieval.milvus.connect import Target

    real = real_snapshot(tmp_path_factory)
    snap = load_snapshot(default_index_dir(real.db), embedding_model=FakeEmbedder.name, embedder=FakeEmbedder())
    folder = tmp_path_factory.mktemp("milvus")
    target = Target.from_settings(str(folder / "m.db"))
    report = build_from_snapshot(snap, target)
    return snap, target, report, folder


def _with_manifest(built, tmp_path, **changes):
    """A copy of the built collection whose stored manifest says ``changes``."""
    from search.retrieval.milvus.collection import (
        MANIFEST_PROPERTY,
        current_collection,
        read_manifest,
    )
    from search.retrieval.milvus.connect import Target, connect

    snap, target, _, folder = built
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    other = Target.from_settings(str(copy / "m.db"))
    client = connect(other)
    name = current_collection(client, other.collection)
    manifest = {**read_manifest(client, name), **changes}
    client.alter_collection_properties(name, properties={MANIFEST_PROPERTY: json.dumps(manifest)})
    client.close()
    return snap, other


@pytest.mark.parametrize(("changes", "message"), [
    ({"model": "another-model"}, "built with the embedding model 'another-model'"),
    ({"medsearch": 0}, "built by another schema"),
    ({"fingerprint": "1-0000"}, "holds another corpus"),
])
def test_a_collection_of_another_model_schema_or_corpus_is_refused(built, tmp_path, changes, message):
    from search.retrieval.milvus.stage import MilvusFirstStage

    snap, other = _with_manifest(built, tmp_path, **changes)
    with pytest.raises(SearchIndexError, match=message) as err:
        MilvusFirstStage.open(other, snap)
    assert "medsearch index" in (err.value.hint or "")


def test_publishing_switches_the_alias_and_a_same_corpus_build_is_kept(built):
    from search.retrieval.milvus.collection import build_from_snapshot, current_collection, publish
    from search.retrieval.milvus.connect import connect

    snap, target, first, _ = built
    assert first.published and first.records == len(snap.doc_ids)
    again = build_from_snapshot(snap, target)
    assert not again.published and again.collection == first.collection
    client = connect(target)
    client.create_collection(f"{target.collection}_000099", dimension=4)
    publish(client, target.collection, f"{target.collection}_000099")
    assert current_collection(client, target.collection) == f"{target.collection}_000099"
    assert first.collection in client.list_collections()  # the previous build stays for readers mid-query
    publish(client, target.collection, first.collection)
    assert f"{target.collection}_000099" in client.list_collections()
