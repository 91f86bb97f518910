"""Model artifacts (serving.models): content-addressed store, formats, verified loading, hot swap."""

from __future__ import annotations

import hashlib
import logging
import pickle
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import fsspec
import joblib
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

from kanri.serving.errors import InvalidInput, ModelLoadError, ModelNotFound, ModelNotReady
from kanri.serving.models import LoadedModel, ModelHolder, ModelSpec, ModelStore, detect_format, load_model
from tests.support.predictors import BatchEcho, Echo


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(str(tmp_path / "store"), cache_dir=tmp_path / "cache")


@pytest.fixture
def memory_dir() -> Iterator[str]:
    """A fresh folder in fsspec's process-wide memory filesystem, removed afterwards."""
    fs = fsspec.filesystem("memory")
    folder = f"/kanri-test-{uuid.uuid4().hex}"
    fs.mkdir(folder)
    yield folder
    fs.rm(folder, recursive=True)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


# --- the content-addressed store -------------------------------------------------------------------


def test_put_file_twice_stores_one_file_under_its_digest(store: ModelStore, tmp_path: Path) -> None:
    artifact = tmp_path / "model.skops"
    artifact.write_bytes(b"model bytes")
    first = store.put_file(artifact)
    copy = tmp_path / "elsewhere" / "same.skops"
    copy.parent.mkdir()
    copy.write_bytes(b"model bytes")
    inode = Path(first.uri).stat().st_ino
    second = store.put_file(copy)
    assert first == second
    assert Path(first.uri).stat().st_ino == inode  # not written again
    assert first.sha256 == sha(b"model bytes") and first.size == len(b"model bytes")
    assert first.uri == f"{tmp_path / 'store'}/sha256/{first.sha256}.skops"
    assert files_under(tmp_path / "store") == [tmp_path / "store" / "sha256" / f"{first.sha256}.skops"]


def test_different_content_gets_a_different_address(store: ModelStore, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a")
    (tmp_path / "b.txt").write_bytes(b"b")
    assert store.put_file(tmp_path / "a.txt").uri != store.put_file(tmp_path / "b.txt").uri
    assert len(files_under(tmp_path / "store")) == 2


async def test_put_stream_stores_verified_bytes(store: ModelStore, tmp_path: Path) -> None:
    data = b"part one|part two"
    stored = await store.put_stream(chunks_of(b"part one", b"|part two"), "upload.joblib", sha(data).upper())
    assert stored.sha256 == sha(data) and stored.size == len(data)
    assert stored.uri.endswith(f"/sha256/{sha(data)}.joblib")
    assert Path(stored.uri).read_bytes() == data
    assert files_under(tmp_path / "cache") == []  # the upload's temporary file is gone


async def test_put_stream_checksum_mismatch_stores_nothing(store: ModelStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="upload checksum mismatch: expected sha256 " + "0" * 64):
        await store.put_stream(chunks_of(b"some", b"bytes"), "m.bin", "0" * 64)
    assert files_under(tmp_path / "store") == []
    assert files_under(tmp_path / "cache") == []


def test_fetch_verifies_the_digest_in_the_name(store: ModelStore, tmp_path: Path) -> None:
    artifact = tmp_path / "m.txt"
    artifact.write_bytes(b"original")
    stored = store.put_file(artifact)
    local, digest = store.fetch(stored.uri)
    assert local.read_bytes() == b"original" and digest == stored.sha256
    Path(stored.uri).write_bytes(b"tampered")
    with pytest.raises(ModelLoadError, match=f"checksum mismatch.*expected sha256 {stored.sha256}"):
        store.fetch(stored.uri)


def test_fetch_checks_an_explicit_digest(store: ModelStore, tmp_path: Path) -> None:
    artifact = tmp_path / "plain-name.txt"
    artifact.write_bytes(b"content")
    assert store.fetch(str(artifact), sha(b"content").upper()) == (artifact, sha(b"content"))
    with pytest.raises(ModelLoadError, match="checksum mismatch"):
        store.fetch(str(artifact), sha(b"other"))


def test_fetch_of_a_missing_artifact(store: ModelStore, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="does not exist"):
        store.fetch(str(tmp_path / "nothing.skops"))


def test_fetch_downloads_a_remote_artifact_into_the_cache_once(store: ModelStore, tmp_path: Path,
                                                               memory_dir: str) -> None:
    data = b"remote model"
    fsspec.filesystem("memory").pipe(f"{memory_dir}/model.skops", data)
    uri = f"memory://{memory_dir}/model.skops"
    local, digest = store.fetch(uri, sha(data))
    assert digest == sha(data)
    assert local.read_bytes() == data
    assert local.is_relative_to(tmp_path / "cache") and local.suffix == ".skops"
    again, _ = store.fetch(uri, sha(data))
    assert again == local
    assert files_under(tmp_path / "cache") == [local]  # cached once, by digest, no stray downloads


def test_fetch_of_a_remote_artifact_with_the_wrong_digest(store: ModelStore, tmp_path: Path, memory_dir: str) -> None:
    fsspec.filesystem("memory").pipe(f"{memory_dir}/model.bin", b"remote model")
    with pytest.raises(ModelLoadError, match="checksum mismatch"):
        store.fetch(f"memory://{memory_dir}/model.bin", sha(b"something else"))
    assert files_under(tmp_path / "cache") == []  # nothing unverified is kept


def test_a_corrupt_cached_copy_is_downloaded_again(store: ModelStore, memory_dir: str) -> None:
    fsspec.filesystem("memory").pipe(f"{memory_dir}/model.bin", b"remote model")
    uri = f"memory://{memory_dir}/model.bin"
    local, _ = store.fetch(uri, sha(b"remote model"))
    local.write_bytes(b"bit rot")
    local, digest = store.fetch(uri, sha(b"remote model"))
    assert local.read_bytes() == b"remote model" and digest == sha(b"remote model")


def test_a_store_on_a_remote_filesystem(tmp_path: Path, memory_dir: str) -> None:
    store = ModelStore(f"memory://{memory_dir}/store", cache_dir=tmp_path / "cache")
    artifact = tmp_path / "m.txt"
    artifact.write_bytes(b"stored remotely")
    stored = store.put_file(artifact)
    assert stored.uri == f"memory://{memory_dir}/store/sha256/{sha(b'stored remotely')}.txt"
    local, digest = store.fetch(stored.uri)  # digest taken from the name
    assert local.read_bytes() == b"stored remotely" and digest == stored.sha256


# --- formats ---------------------------------------------------------------------------------------


def test_detect_format_skops(tmp_path: Path) -> None:
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    assert detect_format(path) == "skops"
    renamed = path.rename(tmp_path / "model.bin")  # by content, not by name
    assert detect_format(renamed) == "skops"


def test_detect_format_joblib_by_suffix(tmp_path: Path) -> None:
    for suffix in (".joblib", ".jbl"):
        path = tmp_path / f"model{suffix}"
        joblib.dump({"weights": [1, 2]}, path)
        assert detect_format(path) == "joblib"


def test_detect_format_pickle_by_magic_byte_or_suffix(tmp_path: Path) -> None:
    by_magic = tmp_path / "model.bin"
    by_magic.write_bytes(pickle.dumps({"weights": [1, 2]}))
    assert detect_format(by_magic) == "pickle"
    by_suffix = tmp_path / "model.pkl"
    by_suffix.write_bytes(b"not really a pickle")
    assert detect_format(by_suffix) == "pickle"


def test_detect_format_plain_files(tmp_path: Path) -> None:
    text = tmp_path / "model.txt"
    text.write_text("hello")
    assert detect_format(text) == "file"
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert detect_format(empty) == "file"
    plain_zip = tmp_path / "archive.zip"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("weights.bin", b"\x80\x00")
    assert detect_format(plain_zip) == "file"  # a zip without schema.json is not skops


# --- loading ---------------------------------------------------------------------------------------


def test_load_model_with_echo(store: ModelStore, echo_models: dict[str, Path]) -> None:
    path = echo_models["v1"]
    model = load_model(Echo, ModelSpec(str(path)), store)
    digest = sha(path.read_bytes())
    assert isinstance(model.predictor, Echo) and model.predictor.prefix == "one"
    assert (model.version, model.sha256, model.uri, model.format) == (digest[:12], digest, str(path), "file")
    assert model.size == path.stat().st_size and model.load_seconds >= 0
    assert not model.batching
    assert load_model(BatchEcho, ModelSpec(str(path), version="7"), store).version == "7"
    assert load_model(BatchEcho, ModelSpec(str(path)), store).batching


def test_load_model_warns_about_pickle_formats(store: ModelStore, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "model.pkl"
    path.write_text("pickled")
    with caplog.at_level(logging.WARNING, logger="kanri.models"):
        model = load_model(Echo, ModelSpec(str(path)), store)
    assert model.format == "pickle"
    assert "loading pickle artifact" in caplog.text and "only safe from a trusted store" in caplog.text
    caplog.clear()
    plain = tmp_path / "model.txt"
    plain.write_text("plain")
    with caplog.at_level(logging.WARNING, logger="kanri.models"):
        assert load_model(Echo, ModelSpec(str(plain)), store).format == "file"
    assert "trusted store" not in caplog.text


def test_load_model_checks_the_expected_digest(store: ModelStore, echo_models: dict[str, Path]) -> None:
    with pytest.raises(ModelLoadError, match="checksum mismatch"):
        load_model(Echo, ModelSpec(str(echo_models["v1"]), sha256=sha(b"other")), store)


def test_load_model_reports_the_predictors_failure(store: ModelStore, echo_models: dict[str, Path]) -> None:
    uri = str(echo_models["corrupt"])
    with pytest.raises(ModelLoadError, match=f"predictor failed to load {uri}: ValueError: model file is corrupt"):
        load_model(Echo, ModelSpec(uri), store)


def test_load_model_runs_warm_up(store: ModelStore, echo_models: dict[str, Path]) -> None:
    class ColdEcho(Echo):
        def warm_up(self) -> None:
            self.predict("boom", {})

    with pytest.raises(ModelLoadError, match="RuntimeError: the model exploded"):
        load_model(ColdEcho, ModelSpec(str(echo_models["v1"])), store)


def test_load_model_failures_are_always_model_load_errors(store: ModelStore, echo_models: dict[str, Path]) -> None:
    class Unbuildable(Echo):
        def __init__(self) -> None:
            raise RuntimeError("no GPU here")

    with pytest.raises(ModelLoadError, match="RuntimeError: no GPU here"):
        load_model(Unbuildable, ModelSpec(str(echo_models["v1"])), store)
    with pytest.raises(ModelLoadError, match=r"no-such-protocol://x/model.txt"):
        load_model(Echo, ModelSpec("no-such-protocol://x/model.txt"), store)


async def test_holder_before_any_load(store: ModelStore) -> None:
    holder = ModelHolder(Echo, store)
    assert not holder.loaded
    with pytest.raises(ModelNotReady, match="no model is loaded yet"):
        _ = holder.current


async def test_holder_switch_swaps_and_reports(store: ModelStore, echo_models: dict[str, Path]) -> None:
    swaps: list[tuple[Any, Any]] = []
    holder = ModelHolder(Echo, store, on_swap=lambda new, old: swaps.append((new, old)))
    first, old = await holder.switch(ModelSpec(str(echo_models["v1"]), version="1"))
    assert old is None and holder.current is first and holder.loaded
    second, old = await holder.switch(ModelSpec(str(echo_models["v2"]), version="2"))
    assert old is first and holder.current is second and second.predictor.prefix == "two"
    assert swaps == [(first, None), (second, first)]


async def test_failed_switch_keeps_the_old_model(store: ModelStore, echo_models: dict[str, Path]) -> None:
    swaps: list[LoadedModel] = []
    holder = ModelHolder(Echo, store, on_swap=lambda new, old: swaps.append(new))
    live, _ = await holder.switch(ModelSpec(str(echo_models["v1"]), version="1"))
    with pytest.raises(ModelLoadError, match="model file is corrupt"):
        await holder.switch(ModelSpec(str(echo_models["corrupt"])))
    with pytest.raises(ModelNotFound):
        await holder.switch(ModelSpec(str(echo_models["v1"].parent / "missing.txt")))
    assert holder.current is live and holder.current.version == "1"
    assert swaps == [live]
