"""The pytest fixture: one real control plane per test session, stopped at its end whatever happened."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.backends import REAL_KUBERNETES
from tests.support.real_kubernetes.binaries import KUBE, etcd_binary, kube_binary
from tests.support.real_kubernetes.cluster import RealKubernetes


@pytest.fixture(scope="session")
def real_kubernetes() -> Iterator[RealKubernetes]:
    cluster = RealKubernetes.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def build_before_the_tests(session: pytest.Session) -> None:
    """On a new machine the one-time build takes minutes, longer than any test's timeout: when a collected test
    needs the real API server, build (or find) the binaries before the first test starts, progress shown."""
    if session.config.option.collectonly or not any(_needs_real_kubernetes(item) for item in session.items):
        return
    with session.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        for name in KUBE:
            kube_binary(name)
        etcd_binary()


def _needs_real_kubernetes(item: pytest.Item) -> bool:
    """Asked for by name, or through the backend parameter (tests/support/backends.py) that names it."""
    callspec = getattr(item, "callspec", None)
    return "real_kubernetes" in getattr(item, "fixturenames", ()) or (
        callspec is not None and REAL_KUBERNETES in callspec.params.values())
