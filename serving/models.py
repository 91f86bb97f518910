"""Model artifacts: a content-addressed store, verified loading, atomic hot swap.

Artifacts are addressed by fsspec URL (a local path is the embedded default).
The store keeps each artifact once, named by its sha256; every load checks the
bytes against the expected digest before any user code sees the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec

from .errors import InvalidInput, ModelLoadError, ModelNotFound, ModelNotReady, ServingError
from .predictor import PredictInterface, has_batch

log = logging.getLogger("kanri.models")

CHUNK = 1 << 20
TRUSTED_ONLY_FORMATS = {"joblib", "pickle"}


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def detect_format(path: str | Path) -> str:
    """skops (safe), joblib or pickle (trusted stores only), or file (handed over as is)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "schema.json" in archive.namelist():
                return "skops"
    with open(path, "rb") as f:
        head = f.read(2)
    if path.suffix in (".joblib", ".jbl"):
        return "joblib"
    if path.suffix in (".pkl", ".pickle") or head[:1] == b"\x80":
        return "pickle"
    return "file"


def _is_hex_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


@dataclass(frozen=True, slots=True)
class StoredModel:
    uri: str
    sha256: str
    size: int


class ModelStore:
    """Content-addressed artifacts under a root fsspec URL: ROOT/sha256/<digest><suffix>.

    Remote artifacts are copied into a local cache (also by digest) before loading,
    so a predictor always receives a local path.
    """

    def __init__(self, root: str, cache_dir: str | Path | None = None) -> None:
        self.root = root.rstrip("/")
        self.fs, self._root_path = fsspec.core.url_to_fs(self.root)
        self.cache_dir = Path(cache_dir or Path(tempfile.gettempdir()) / "kanri-model-cache")

    def uri_for(self, sha256: str, suffix: str) -> str:
        return f"{self.root}/sha256/{sha256}{suffix}"

    async def put_stream(self, chunks: AsyncIterator[bytes], filename: str, expected_sha256: str = "") -> StoredModel:
        """Store streamed bytes; refuse them when the digest differs from the expected one."""
        digest = hashlib.sha256()
        size = 0
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    f.write(chunk)
            sha = digest.hexdigest()
            if expected_sha256 and sha != expected_sha256.lower():
                raise InvalidInput(f"upload checksum mismatch: expected sha256 {expected_sha256}, received {sha}")
            stored = await asyncio.to_thread(self._publish, tmp, sha, Path(filename).suffix, size)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return stored

    def put_file(self, path: str | Path) -> StoredModel:
        path = Path(path)
        sha = sha256_file(path)
        return self._publish(str(path), sha, path.suffix, path.stat().st_size)

    def _publish(self, local: str, sha: str, suffix: str, size: int) -> StoredModel:
        uri = self.uri_for(sha, suffix)
        target = self.fs._strip_protocol(uri)
        if not self.fs.exists(target):
            self.fs.makedirs(self.fs._parent(target), exist_ok=True)
            partial = f"{target}.partial-{os.getpid()}"
            self.fs.put_file(local, partial)
            self.fs.mv(partial, target)
        return StoredModel(uri=uri, sha256=sha, size=size)

    def remove(self, uri: str) -> None:
        """Delete an artifact of this store; one already gone is fine."""
        target = self.fs._strip_protocol(uri)
        if self.fs.exists(target):
            self.fs.rm(target)

    def fetch(self, uri: str, expected_sha256: str = "") -> tuple[Path, str]:
        """A local path holding the artifact at uri, and its verified sha256."""
        fs, path = fsspec.core.url_to_fs(uri)
        if not fs.exists(path):
            raise ModelNotFound(f"model artifact {uri} does not exist")
        expected = expected_sha256.lower()
        name = Path(path).name
        # Artifacts inside the store carry their digest in their name.
        if not expected and _is_hex_digest(Path(name).stem):
            expected = Path(name).stem
        if _is_local(fs):
            local = Path(path)
            sha = sha256_file(local)
        else:
            local, sha = self._download(fs, path, expected, uri)
        if expected and sha != expected:
            raise ModelLoadError(f"checksum mismatch for {uri}: expected sha256 {expected}, file has {sha}")
        return local, sha

    def _download(self, fs: Any, path: str, expected: str, uri: str) -> tuple[Path, str]:
        """Copy a remote artifact into the cache, named by its digest; reuse a verified cached copy."""
        suffix = Path(path).suffix
        folder = self.cache_dir / "sha256"
        if expected:
            cached = folder / f"{expected}{suffix}"
            if cached.exists():
                sha = sha256_file(cached)
                if sha == expected:
                    return cached, sha
                log.warning("cached copy %s of %s is corrupt; downloading it again", cached, uri)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="download-", suffix=suffix)
        os.close(fd)
        try:
            fs.get_file(path, tmp)
            sha = sha256_file(tmp)
            if expected and sha != expected:
                raise ModelLoadError(f"checksum mismatch for {uri}: expected sha256 {expected}, file has {sha}")
            cached = folder / f"{sha}{suffix}"
            os.replace(tmp, cached)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return cached, sha


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    uri: str
    sha256: str = ""
    version: str = ""


@dataclass(slots=True)
class LoadedModel:
    """A predictor instance with its model loaded and the facts about it."""

    predictor: PredictInterface
    version: str
    sha256: str
    uri: str
    format: str
    size: int
    load_seconds: float
    loaded_at: float = field(default_factory=time.time)

    @property
    def batching(self) -> bool:
        return has_batch(self.predictor)


def load_model(predictor_cls: type[PredictInterface], spec: ModelSpec, store: ModelStore) -> LoadedModel:
    """Fetch, verify, load and warm up; raises a ServingError on any failure."""
    started = time.perf_counter()
    try:
        local, sha = store.fetch(spec.uri, spec.sha256)
        fmt = detect_format(local)
    except ServingError:
        raise
    except Exception as exc:  # an unknown protocol, an unreachable or unreadable store...
        raise ModelLoadError(f"cannot fetch {spec.uri}: {type(exc).__name__}: {exc}") from exc
    if fmt in TRUSTED_ONLY_FORMATS:
        log.warning("loading %s artifact %s: only safe from a trusted store (prefer skops)", fmt, spec.uri)
    try:
        predictor = predictor_cls()
        predictor.load_model(str(local))
        predictor.warm_up()
    except Exception as exc:
        raise ModelLoadError(f"predictor failed to load {spec.uri}: {type(exc).__name__}: {exc}") from exc
    return LoadedModel(
        predictor=predictor,
        version=spec.version or sha[:12],
        sha256=sha,
        uri=spec.uri,
        format=fmt,
        size=local.stat().st_size,
        load_seconds=time.perf_counter() - started,
    )


class ModelHolder:
    """Holds the live model; a switch loads beside it and swaps the reference.

    Requests take ``current`` once and keep that object, so in-flight requests
    finish on the model they started with while new ones see the new model.
    """

    def __init__(self, predictor_cls: type[PredictInterface], store: ModelStore,
                 on_swap: Callable[[LoadedModel, LoadedModel | None], None] | None = None) -> None:
        self.predictor_cls = predictor_cls
        self.store = store
        self._current: LoadedModel | None = None
        self._switching = asyncio.Lock()
        self._on_swap = on_swap

    @property
    def current(self) -> LoadedModel:
        model = self._current
        if model is None:
            raise ModelNotReady("no model is loaded yet; the service is starting or its model failed to load")
        return model

    @property
    def loaded(self) -> bool:
        return self._current is not None

    async def switch(self, spec: ModelSpec) -> tuple[LoadedModel, LoadedModel | None]:
        """Load spec beside the live model and swap; the live model keeps serving on failure."""
        async with self._switching:
            new = await asyncio.to_thread(load_model, self.predictor_cls, spec, self.store)
            old, self._current = self._current, new
            if self._on_swap:
                self._on_swap(new, old)
            log.info("model %s (sha256 %s) is live, %.2fs to load", new.version, new.sha256[:12], new.load_seconds)
            return new, old
