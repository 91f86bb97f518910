"""What the telemetry tests run against: real runtimes under load, the known cluster figures, and the
ways log lines reach each log store.

The fleet is three real `kanri serve` processes of one application ("testapp"):
two pods of testapp-web, one of testapp-batch, loaded by a thread whose calls
are 60% fine, 10% server faults ("boom": INTERNAL) and 30% caller mistakes
("bad": INVALID_ARGUMENT), so the error ratio is 0.1 when only faults count.
The fixtures are in tests/support/telemetry_fixtures.py.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch, helpers
from kubernetes import client as k8s

from kanri.console.cli import main
from kanri.console.cluster.base import Pod
from kanri.console.config import ENVIRONMENT
from kanri.console.telemetry import ElasticsearchLogs, KubernetesPodLogs, LocalFileLogs, LogSource, PodLabels
from kanri.console.telemetry.promql import Labels, Queries
from kanri.serving.client import Client, ServingError
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.pod_logs import FakePodLogs
from tests.support.prometheus import wait_until
from tests.support.servers import ServeProcess

APP = "testapp"
NAMESPACE = "kanri-test"
RATE_WINDOW = "5s"  # of the tests' PrometheusMetrics and recording rules: Prometheus scrapes every second
CALLS = ["hi"] * 6 + ["boom"] + ["bad"] * 3
FAULT_SHARE = 0.1

# What the exporter publishes for each pod: cAdvisor, DCGM (pod a) or the runtime's NVML gauges (pod b), restarts.
CLUSTER_FIGURES = {
    "testapp-web-a": {"cpu_cores": 0.25, "cpu_limit": 1.0, "memory": 100 << 20, "gpu": "dcgm", "gpu_util": 0.42,
                      "gpu_memory": 2 << 30, "restarts": 0},
    "testapp-web-b": {"cpu_cores": 0.5, "cpu_limit": 2.0, "memory": 200 << 20, "gpu": "nvml", "gpu_util": 0.25,
                      "gpu_memory": 1 << 30, "restarts": 2},
    "testapp-batch-a": {"cpu_cores": 0.1, "cpu_limit": 0.5, "memory": 300 << 20, "gpu": None, "restarts": 1},
}


def kanri_cli(home: Path, monkeypatch: pytest.MonkeyPatch, **settings: str) -> Callable[..., Result]:
    """`kanri ARGS` in-process as a new user runs it: a fresh KANRI_HOME where APP is registered, the embedded
    cluster, and these KANRI_* settings (e.g. KANRI_PROMETHEUS_URL)."""
    for name in (*ENVIRONMENT.values(), "KANRI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KANRI_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def kanri(*args: str) -> Result:
        return runner.invoke(main, list(args), prog_name="kanri")

    created = kanri("app", "create", APP, "--predictor", "tests.support.predictors:Echo")
    assert created.exit_code == 0, created.output
    return kanri


def latency_rules_config(folder: Path, rate_window: str, interval: str) -> str:
    """Prometheus configuration loading the console's latency recording rules, written into `folder`."""
    rules = folder / f"latency-rules-{rate_window}.yml"
    rules.write_text(yaml.safe_dump({"groups": [Queries(Labels(), rate_window).latency_rules(interval)]}))
    return yaml.safe_dump({"rule_files": [str(rules)]})


@dataclass(eq=False)
class Replica:
    name: str
    service: str
    server: ServeProcess

    def pod(self, restarts: int = 0) -> Pod:
        return Pod(name=self.name, app=APP, service=self.service, level="production", phase="Running", ready=True,
                   restarts=restarts, age_seconds=1.0, model_version=1, host="127.0.0.1",
                   pid=self.server.process.pid, address=self.server.target,
                   metrics_address=f"127.0.0.1:{self.server.metrics_port}")


@dataclass
class Fleet:
    replicas: list[Replica]
    stop: threading.Event = field(default_factory=threading.Event)
    calls: int = 0

    def pods(self) -> list[Pod]:
        return [r.pod(CLUSTER_FIGURES[r.name]["restarts"]) for r in self.replicas]

    def load(self) -> None:
        """Bounded load: one call at a time per replica, round robin, until stopped."""
        clients = [Client(target=r.server.target, retries=0, timeout=5) for r in self.replicas]
        try:
            for text in itertools.cycle(CALLS):
                if self.stop.is_set():
                    return
                for client in clients:
                    with contextlib.suppress(ServingError):
                        client.predict(text)
                self.calls += 1
                time.sleep(0.005)
        finally:
            for client in clients:
                client.close()


class Shipper:
    """Ships the fleet's new output lines into a log store, as fluent-bit would: whole lines, in order."""

    def __init__(self, fleet: Fleet) -> None:
        """Ships what the fleet writes from now on: a test's store holds the same few lines however long the
        fleet has run (a pod-log read, for one, is bounded by its scan_lines)."""
        self.fleet = fleet
        self.offsets = {r.name: _whole_lines(r.server.log_path.read_bytes()) for r in fleet.replicas}

    def new_lines(self, at_least: int = 1, timeout: float = 10.0) -> dict[Replica, list[str]]:
        """Lines written since the last call, per replica; waits until each replica wrote `at_least`."""
        def collect() -> dict[Replica, list[str]] | None:
            found = {}
            for r in self.fleet.replicas:
                data = r.server.log_path.read_bytes()[self.offsets[r.name]:]
                found[r] = data[:_whole_lines(data)].decode().splitlines()
            return found if all(len(lines) >= at_least for lines in found.values()) else None

        found = wait_until(collect, timeout, f"{at_least} new log lines from each replica")
        for r, lines in found.items():
            self.offsets[r.name] += sum(len(line.encode()) + 1 for line in lines)
        return found


def _whole_lines(data: bytes) -> int:
    """How many bytes of `data` are whole lines: a line still being written waits for its end."""
    return data.rfind(b"\n") + 1


@dataclass
class LogStore:
    """A log source and the way lines reach it."""

    name: str
    source: LogSource
    write: Callable[[Replica, list[str]], None]


def local_files_store(folder: Path) -> LogStore:
    def write(replica: Replica, lines: list[str]) -> None:
        path = folder / APP / replica.service / f"{replica.name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.writelines(line + "\n" for line in lines)

    return LogStore("local files", LocalFileLogs(folder), write)


def elasticsearch_store(fake: FakeElasticsearch) -> LogStore:
    """Each test its own indices; documents as fluent-bit ships them, with a unique log_id."""
    index = f"kanri-logs-{uuid.uuid4().hex[:8]}"
    client = Elasticsearch(fake.url)

    def write(replica: Replica, lines: list[str]) -> None:
        helpers.bulk(client, ({"_index": f"{index}-2026.11.23", "_source": {**json.loads(line),
                                                                           "log_id": str(uuid.uuid4())}}
                              for line in lines), refresh="true")

    return LogStore("elasticsearch", ElasticsearchLogs(client, index=f"{index}-*"), write)


def pod_logs_store(fake: FakePodLogs) -> LogStore:
    """Each test its own namespace in the fake API."""
    namespace, labels = f"ns-{uuid.uuid4().hex[:8]}", PodLabels()

    def write(replica: Replica, lines: list[str]) -> None:
        fake.add_pod(namespace, replica.name, {labels.app: APP, labels.service: replica.service,
                                               labels.service_level: "production"})
        fake.write(namespace, replica.name, *lines)

    api = k8s.ApiClient(k8s.Configuration(host=fake.url))
    return LogStore("pod logs", KubernetesPodLogs(api, namespace), write)

