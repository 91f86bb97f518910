"""The pytest fixture: one real control plane per test session, stopped at its end whatever happened."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.real_kubernetes.cluster import RealKubernetes


@pytest.fixture(scope="session")
def real_kubernetes() -> Iterator[RealKubernetes]:
    cluster = RealKubernetes.start()
    try:
        yield cluster
    finally:
        cluster.stop()
