from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kanri.console.demo.artifacts import train_module
from kanri.console.ops.context import Context
from kanri.console.registry.database import Registry
from kanri.serving.models import ModelStore
from tests.support.demo import demo_home  # noqa: F401  (a fixture for the tests that run `kanri demo`)
from tests.support.docker_engine.fixture import docker_engine  # noqa: F401  (the session's Docker engine)
from tests.support.manifests import console_settings  # noqa: F401  (for the tests of manifests and kanri render)
from tests.support.memory_backend import MemoryBackend
from tests.support.real_kubernetes.fixture import (  # the session's real API server
    build_before_the_tests,
    real_kubernetes,  # noqa: F401
)
from tests.support.registry import BACKENDS, database_url
from tests.support.servers import PREDICTORS, ServeProcess, start_serve

ROOT = Path(__file__).resolve().parents[1]

# Every `kanri serve` the tests start (their own, the local cluster's, the demo's) is one process unless a
# test asks for workers: the default, one per usable CPU, would make the suite depend on the machine and run
# slower. tests/test_cpus.py checks the default itself.
os.environ.setdefault("KANRI_WORKERS", "1")
# A token in the developer's shell would make every runtime the tests start refuse their calls.
os.environ.pop("KANRI_PREDICT_TOKEN", None)


def pytest_collection_finish(session: pytest.Session) -> None:
    build_before_the_tests(session)


@pytest.fixture(scope="session")
def digits_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """digits-v1.skops, digits-v2.skops and digits-test.jsonl, trained once per run."""
    return {p.name: p for p in train_module().train(tmp_path_factory.mktemp("digits"))}


@pytest.fixture(scope="session")
def echo_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("echo-models")
    models = {"v1": "one", "v2": "two", "corrupt": "corrupt bytes"}
    paths = {}
    for name, text in models.items():
        paths[name] = folder / f"echo-{name}.txt"
        paths[name].write_text(text)
    return paths


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory: pytest.TempPathFactory, echo_models: dict[str, Path]) -> Iterator[ServeProcess]:
    server = start_serve(tmp_path_factory.mktemp("echo"), f"{PREDICTORS}:Echo", str(echo_models["v1"]),
                         "--model-version", "1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def digits_server(tmp_path_factory: pytest.TempPathFactory, digits_models: dict[str, Path]) -> Iterator[ServeProcess]:
    server = start_serve(tmp_path_factory.mktemp("digits"), str(ROOT / "examples/digits/predictor.py") + ":Digits",
                         str(digits_models["digits-v1.skops"]), "--model-version", "1", "--app", "digits")
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every registry test runs on SQLite and on MariaDB, each with a database of its own."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def memory_backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def ops(registry_url: str, tmp_path: Path, memory_backend: MemoryBackend) -> Iterator[Context]:
    """An operations context on a migrated registry, a fresh model store and an in-memory cluster."""
    registry = Registry(registry_url, auto_upgrade=True)
    yield Context(registry, ModelStore(str(tmp_path / "store")), lambda: memory_backend, actor="alice")
    registry.close()
