"""The demo's home in a throwaway XDG data folder, for tests that run `kanri demo` for real."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kanri.console.cli import main
from kanri.console.cluster.local.control import kill_leftovers
from kanri.console.cluster.local.paths import LocalPaths
from tests.support.backends import FAST

DEMO_TIMINGS = dataclasses.replace(FAST, startup_seconds=30.0)
"""Quick ticks and drains, but the default start-up allowance: five digits replicas importing scikit-learn at
once on two busy cores can take longer than FAST's 5 s to answer their first health check."""


@pytest.fixture
def demo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo's home under a fresh XDG data folder; the user's own KANRI_HOME beside it must stay untouched."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KANRI_HOME", str(tmp_path / "users-home"))
    for name in ("KANRI_DATABASE_URL", "KANRI_CONFIG", "KANRI_CLUSTER", "KANRI_MODEL_STORE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in DEMO_TIMINGS.to_env().items():  # the supervisor the demo starts inherits them
        monkeypatch.setenv(name, value)
    home = tmp_path / "data" / "kanri-demo"
    yield home
    CliRunner().invoke(main, ["demo", "--down"], prog_name="kanri")
    kill_leftovers(LocalPaths(home))
