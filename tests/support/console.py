"""The console's data layer over a real embedded setup, for Pilot tests: a fresh KANRI_HOME with its SQLite
registry and model store, and a cluster backend the test chooses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kanri.console.cluster.base import ClusterBackend
from kanri.console.config import ENVIRONMENT, load
from kanri.console.ops.context import Context
from kanri.console.registry.database import Registry
from kanri.console.tui.data import ConsoleData
from kanri.serving.models import ModelStore


@contextmanager
def console_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: ClusterBackend,
                 read_only: bool = False, database_url: str = "") -> Iterator[ConsoleData]:
    """With no database_url, the embedded SQLite registry of the fresh home."""
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    if database_url:
        monkeypatch.setenv("KANRI_DATABASE_URL", database_url)
    monkeypatch.delenv("KANRI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KANRI_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir(exist_ok=True)
    settings = load()
    ctx = Context(Registry(settings.database_url, auto_upgrade=True), ModelStore(settings.model_store),
                  lambda: backend, actor="alice")
    data = ConsoleData(settings, read_only=read_only, context=ctx)
    try:
        yield data
    finally:
        data.close()
