"""Pytest fixtures for the telemetry tests (load with `pytest_plugins`); what they run is in telemetry_fleet."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import gpu_exporter
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.pod_logs import FakePodLogs
from tests.support.prometheus import Prometheus
from tests.support.servers import PREDICTORS, start_serve
from tests.support.telemetry_fleet import (
    APP,
    CLUSTER_FIGURES,
    NAMESPACE,
    RATE_WINDOW,
    Fleet,
    LogStore,
    Replica,
    elasticsearch_store,
    latency_rules_config,
    local_files_store,
    pod_logs_store,
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, echo_models: dict[str, Path]) -> Iterator[Fleet]:
    folder = tmp_path_factory.mktemp("fleet")
    replicas = [Replica(name, service, start_serve(
        folder, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--model-version", "1", "--service", service,
        "--service-level", "production", env={"KANRI_POD": name}, wait=False))
        for name, service in (("testapp-web-a", "testapp-web"), ("testapp-web-b", "testapp-web"),
                              ("testapp-batch-a", "testapp-batch"))]
    fleet = Fleet(replicas)
    loader = threading.Thread(target=fleet.load, daemon=True)
    try:
        for r in replicas:
            r.server.wait_health()
        loader.start()
        yield fleet
    finally:
        fleet.stop.set()
        if loader.is_alive():
            loader.join(10)
        for r in replicas:
            r.server.stop()


@pytest.fixture(scope="module")
def prometheus(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A real Prometheus scraping the fleet (pod and namespace as target labels) and the exporter, running
    the console's latency recording rules for a RATE_WINDOW window."""
    folder = tmp_path_factory.mktemp("exporter")
    exporter, address = gpu_exporter.start(
        [{"pod": r.name, "namespace": NAMESPACE, "app": APP, "service": r.service, **CLUSTER_FIGURES[r.name]}
         for r in fleet.replicas], folder)
    server = Prometheus.start(extra_config=latency_rules_config(folder, RATE_WINDOW, "1s"))
    try:
        server.set_targets("exporters", [(address, {})])
        server.set_targets("kanri", [(f"127.0.0.1:{r.server.metrics_port}", {"pod": r.name, "namespace": NAMESPACE})
                                     for r in fleet.replicas])
        yield server
    finally:
        server.stop()
        exporter.terminate()
        exporter.wait(10)


@pytest.fixture(scope="session")
def fake_elasticsearch() -> Iterator[FakeElasticsearch]:
    fake = FakeElasticsearch.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_pod_logs() -> Iterator[FakePodLogs]:
    fake = FakePodLogs()
    yield fake
    fake.stop()


@pytest.fixture(params=["local files", "elasticsearch", "pod logs"])
def log_store(request: pytest.FixtureRequest, tmp_path: Path) -> LogStore:
    if request.param == "local files":
        return local_files_store(tmp_path)
    if request.param == "elasticsearch":
        return elasticsearch_store(request.getfixturevalue("fake_elasticsearch"))
    return pod_logs_store(request.getfixturevalue("fake_pod_logs"))
