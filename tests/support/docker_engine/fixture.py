"""The pytest fixture: one Docker engine per test session, with the base images made, stopped at its end
whatever happened."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.docker_engine.base_images import ensure_base_images
from tests.support.docker_engine.engine import DockerEngine


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root")
    engine = DockerEngine.start()
    try:
        ensure_base_images(engine)
        yield engine
    finally:
        engine.stop()
