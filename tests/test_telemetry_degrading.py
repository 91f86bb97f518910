"""Every telemetry source, pointed at something down, silent or answering garbage, answers
TelemetryUnavailable within its timeout instead of raising or hanging."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from elasticsearch import Elasticsearch
from kubernetes import client as k8s

from kanri.console.cluster.base import Pod
from kanri.console.telemetry import (
    ElasticsearchLogs,
    KubernetesPodLogs,
    LogQuery,
    MetricsSnapshot,
    PrometheusMetrics,
    ScrapeMetrics,
    TelemetryUnavailable,
)
from kanri.console.telemetry.elasticsearch import SearchCursor
from tests.support.servers import free_port

TIMEOUT = 0.5


class Garbage(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        body = b'<html>502 from a proxy that is not what you wanted</html> {"status": "success", "data": 7}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


REFUSED = {"down": ": connection refused"}
"""How a reason ends, for a server that is not there: in the system's words, not the client's paragraph."""


@pytest.fixture(scope="module", params=["down", "silent", "garbage"])
def address(request: pytest.FixtureRequest) -> Iterator[str]:
    """host:port of a server that is not there, accepts and never answers, or answers nonsense."""
    if request.param == "down":
        yield f"127.0.0.1:{free_port()}"
    elif request.param == "silent":
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            yield f"127.0.0.1:{listener.getsockname()[1]}"
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        server.server_close()


def timed(call: Callable[[], object]) -> object:
    started = time.monotonic()
    answer = call()
    assert time.monotonic() - started < TIMEOUT + 0.4
    return answer


def unavailable(answer: object, source: str, ending: str = "") -> None:
    assert isinstance(answer, TelemetryUnavailable), answer
    assert source in answer.reason
    assert answer.reason.endswith(ending), answer.reason


def test_prometheus(address: str, request: pytest.FixtureRequest) -> None:
    source, ending = PrometheusMetrics(f"http://{address}", timeout=TIMEOUT), REFUSED.get(request.node.callspec.id, "")
    unavailable(timed(lambda: source.snapshot("app")), f"Prometheus at http://{address}", ending)
    unavailable(timed(lambda: source.history("app")), f"Prometheus at http://{address}", ending)


def test_elasticsearch(address: str, request: pytest.FixtureRequest) -> None:
    source, ending = ElasticsearchLogs(Elasticsearch(f"http://{address}"), timeout=TIMEOUT), \
        REFUSED.get(request.node.callspec.id, "")
    where = f"Elasticsearch at http://{address} (kanri-logs-*)"
    unavailable(timed(lambda: source.search(LogQuery("app"))), where, ending)
    unavailable(timed(lambda: source.poll(LogQuery("app"), SearchCursor((0, ""), frozenset()))), where, ending)


def test_kubernetes_pod_logs(address: str) -> None:
    source = KubernetesPodLogs(k8s.ApiClient(k8s.Configuration(host=f"http://{address}")), "ns", timeout=TIMEOUT)
    unavailable(timed(lambda: source.search(LogQuery("app"))), "Kubernetes")


def test_scrape_shows_the_pod_without_figures(address: str) -> None:
    pod = Pod(name="p", app="app", service="s", level="production", phase="Running", ready=True, restarts=3,
              age_seconds=1.0, model_version=1, host="127.0.0.1", metrics_address=address)
    source = ScrapeMetrics(lambda: [pod], timeout=TIMEOUT)
    snapshot = timed(lambda: source.snapshot("app"))
    assert isinstance(snapshot, MetricsSnapshot)
    figures = snapshot.services[0].pods[0].figures
    assert figures.requests_per_second is None and figures.restarts == 3
