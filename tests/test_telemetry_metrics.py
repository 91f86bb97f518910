"""MetricsSource: one contract for PrometheusMetrics (a real Prometheus; latency raw or from the console's
recording rules) and ScrapeMetrics (direct scrapes), all reading three real runtimes under load; then what
each adapter adds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from prometheus_api_client import PrometheusConnect

from kanri.console.telemetry import (
    Figures,
    MetricsHistory,
    MetricsSnapshot,
    MetricsSource,
    PrometheusMetrics,
    ScrapeMetrics,
    TelemetryUnavailable,
)
from tests.support.prometheus import Prometheus, wait_until
from tests.support.servers import free_port
from tests.support.telemetry_fleet import APP, CLUSTER_FIGURES, FAULT_SHARE, RATE_WINDOW, Fleet, kanri_cli

pytest_plugins = ["tests.support.telemetry_fixtures"]

WEB, BATCH = "testapp-web", "testapp-batch"


def figures_of(snapshot: MetricsSnapshot) -> dict[str, Figures]:
    """Pods and services by name."""
    found = {s.service: s.figures for s in snapshot.services}
    found.update({p.pod: p.figures for s in snapshot.services for p in s.pods})
    return found


def complete(snapshot: MetricsSnapshot | TelemetryUnavailable) -> MetricsSnapshot | None:
    """The snapshot once every pod shows traffic and container figures, else None (keep polling)."""
    if not isinstance(snapshot, MetricsSnapshot):
        return None
    figures = figures_of(snapshot)
    ready = all(name in figures and figures[name].requests_per_second and figures[name].p99_seconds
                and figures[name].cpu_cores is not None for name in CLUSTER_FIGURES)
    return snapshot if ready else None


def _complete_source(prometheus: Prometheus, recorded: bool, waiting_for: str) -> Iterator[PrometheusMetrics]:
    """A PrometheusMetrics once its snapshot is complete, closed after the module."""
    source = PrometheusMetrics(prometheus.url, rate_window=RATE_WINDOW, recorded=recorded)
    wait_until(lambda: complete(source.snapshot(APP)), 30, waiting_for)
    yield source
    source.close()


@pytest.fixture(scope="module")
def prometheus_metrics(prometheus: Prometheus) -> Iterator[PrometheusMetrics]:
    """Latency from the raw bucket series, rated at each refresh."""
    yield from _complete_source(prometheus, False, "Prometheus has scraped the fleet")


@pytest.fixture(scope="module")
def recorded_metrics(prometheus: Prometheus) -> Iterator[PrometheusMetrics]:
    """Latency from the series of the recording rules the test Prometheus runs."""
    yield from _complete_source(prometheus, True, "the recording rules have run")


@pytest.fixture(scope="module")
def scrape_metrics(fleet: Fleet) -> Iterator[ScrapeMetrics]:
    source = ScrapeMetrics(fleet.pods)
    yield source
    source.close()


@pytest.fixture(params=["prometheus", "recorded", "scrape"])
def metrics(request: pytest.FixtureRequest) -> MetricsSource:
    return request.getfixturevalue(f"{request.param}_metrics")


def test_snapshot_lists_each_service_with_its_pods(metrics: MetricsSource) -> None:
    snapshot = metrics.snapshot(APP)
    assert isinstance(snapshot, MetricsSnapshot)
    assert [(s.service, [p.pod for p in s.pods]) for s in snapshot.services] == [
        (BATCH, ["testapp-batch-a"]), (WEB, ["testapp-web-a", "testapp-web-b"])]
    assert abs(snapshot.taken_at - time.time()) < 5


def test_request_figures_follow_the_load(metrics: MetricsSource) -> None:
    snapshot = wait_until(lambda: complete(metrics.snapshot(APP)), 10, "figures for every pod")
    figures = figures_of(snapshot)
    for name in (*CLUSTER_FIGURES, WEB, BATCH):
        f = figures[name]
        assert f.requests_per_second > 5, name
        # Only server faults count: counting INVALID_ARGUMENT too would give 0.4.
        assert FAULT_SHARE * 0.4 < f.error_ratio < FAULT_SHARE * 2, (name, f.error_ratio)
        assert 0 < f.p50_seconds <= f.p99_seconds < 1, name
        assert f.in_flight is not None and f.in_flight >= 0
    web_pods = figures["testapp-web-a"].requests_per_second + figures["testapp-web-b"].requests_per_second
    # Pod and service queries run one after the other: a scrape may land in between.
    assert figures[WEB].requests_per_second == pytest.approx(web_pods, rel=0.15)


def test_restarts_and_memory_per_pod_and_service(metrics: MetricsSource) -> None:
    figures = figures_of(metrics.snapshot(APP))
    for name, published in CLUSTER_FIGURES.items():
        assert figures[name].restarts == published["restarts"]
        assert figures[name].memory_bytes > 10 << 20
    assert figures[WEB].restarts == 2
    assert figures[WEB].memory_bytes == pytest.approx(
        figures["testapp-web-a"].memory_bytes + figures["testapp-web-b"].memory_bytes, rel=0.05)


def test_one_service_or_an_unknown_app(metrics: MetricsSource) -> None:
    only_web = metrics.snapshot(APP, WEB)
    assert [s.service for s in only_web.services] == [WEB]
    assert metrics.snapshot("no-such-app").services == ()


def test_history_gives_series_for_sparklines(metrics: MetricsSource) -> None:
    def two_points() -> MetricsHistory | None:
        """Prometheus needs two scrapes before a rate has a point; ScrapeMetrics makes its history of its own
        snapshots. Either way: poll, not sleep."""
        metrics.snapshot(APP)
        history = metrics.history(APP, window_seconds=60, step_seconds=1)
        web = history.services.get(WEB, {}) if isinstance(history, MetricsHistory) else {}
        return history if "requests_per_second" in web and len(web["requests_per_second"].points) >= 2 else None

    history = wait_until(two_points, 20, "two points of requests/s history")
    assert set(history.services) == {WEB, BATCH}
    assert set(history.pods) == set(CLUSTER_FIGURES)
    series = history.services[WEB]["requests_per_second"]
    assert len(series.points) >= 2 and all(v > 0 for v in series.values)
    times = [t for t, _ in series.points]
    assert times == sorted(times) and time.time() - 60 <= times[0]
    assert set(metrics.history(APP, WEB, 60, 1).services) == {WEB}


# PrometheusMetrics: container and GPU figures come from the exporter, whose values are known.

def test_prometheus_container_figures_come_from_cadvisor(prometheus_metrics: PrometheusMetrics) -> None:
    def window_filled() -> dict[str, Figures] | None:
        """rate() underestimates a series younger than its window: wait until the exporter's is older."""
        figures = figures_of(prometheus_metrics.snapshot(APP))
        return figures if figures["testapp-web-a"].cpu_cores == pytest.approx(0.25, rel=0.02) else None

    figures = wait_until(window_filled, 10, "CPU rates over a full window")
    for name, published in CLUSTER_FIGURES.items():
        # The pod cgroup (container="") and the pause container are published too and must not count.
        assert figures[name].cpu_cores == pytest.approx(published["cpu_cores"], rel=0.02)
        assert figures[name].cpu_limit_share == pytest.approx(published["cpu_cores"] / published["cpu_limit"],
                                                              rel=0.02)
        assert figures[name].memory_bytes == published["memory"]
    assert figures[WEB].cpu_cores == pytest.approx(0.75, rel=0.02)
    assert figures[WEB].cpu_limit_share == pytest.approx(0.75 / 3.0, rel=0.02)


def test_prometheus_gpu_from_dcgm_else_the_runtime_gauges(prometheus_metrics: PrometheusMetrics) -> None:
    figures = figures_of(prometheus_metrics.snapshot(APP))
    assert figures["testapp-web-a"].gpu_utilization == pytest.approx(0.42)  # DCGM, in %
    assert figures["testapp-web-a"].gpu_memory_bytes == 2 << 30  # DCGM, in MiB
    assert figures["testapp-web-b"].gpu_utilization == pytest.approx(0.25)  # kanri_gpu_* (NVML)
    assert figures["testapp-web-b"].gpu_memory_bytes == 1 << 30
    assert figures["testapp-batch-a"].gpu_utilization is None
    assert figures[WEB].gpu_utilization == pytest.approx((0.42 + 0.25) / 2)
    assert figures[WEB].gpu_memory_bytes == 3 << 30
    assert figures[BATCH].gpu_memory_bytes is None


def test_recorded_latency_is_what_the_recording_rules_keep(prometheus: Prometheus,
                                                            recorded_metrics: PrometheusMetrics) -> None:
    snapshot = recorded_metrics.snapshot(APP)
    client = PrometheusConnect(prometheus.url)

    def recorded(level: str, name: str, quantile: str) -> float:
        series = f'{level}:kanri_request_duration_seconds:quantile_rate{RATE_WINDOW}'
        [sample] = client.custom_query(f'{series}{{{level}="{name}", quantile="{quantile}"}}',
                                       params={"time": snapshot.taken_at})
        return float(sample["value"][1])

    figures = figures_of(snapshot)
    for level, names in (("pod", CLUSTER_FIGURES), ("service", (WEB, BATCH))):
        for name in names:
            assert figures[name].p50_seconds == recorded(level, name, "0.5"), name
            assert figures[name].p99_seconds == recorded(level, name, "0.99"), name


def test_prometheus_finds_the_recording_rules_or_falls_back(prometheus: Prometheus,
                                                             recorded_metrics: PrometheusMetrics) -> None:
    found = PrometheusMetrics(prometheus.url, rate_window=RATE_WINDOW)
    absent = PrometheusMetrics(prometheus.url, rate_window="7s")  # no rules keep a 7 s window
    try:
        assert found.uses_recorded() is True
        assert absent.uses_recorded() is False
        assert complete(absent.snapshot(APP)), "raw buckets where no recorded series are"
    finally:
        found.close()
        absent.close()


def test_kanri_top_prints_what_prometheus_holds(prometheus: Prometheus, prometheus_metrics: PrometheusMetrics,
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kanri = kanri_cli(tmp_path, monkeypatch, KANRI_PROMETHEUS_URL=prometheus.url)
    result = kanri("top", APP, "--once", "--json")
    assert result.exit_code == 0, result.output
    services = {s["service"]: s for s in json.loads(result.stdout)["services"]}
    assert set(services) == {WEB, BATCH}
    assert {p["pod"] for p in services[WEB]["pods"]} == {"testapp-web-a", "testapp-web-b"}
    web = services[WEB]["figures"]
    assert web["requests_per_second"] > 5 and 0 < web["p99_seconds"] < 1
    # kanri top rates over 1m, longer than this Prometheus has run: rates are low until then, gauges exact.
    assert web["cpu_cores"] > 0 and web["memory_bytes"] == 300 << 20 and web["gpu_memory_bytes"] == 3 << 30
    table = kanri("top", APP, "--once")
    assert table.exit_code == 0 and "testapp-batch-a" in table.stdout


def test_prometheus_killed_then_restarted(prometheus: Prometheus, prometheus_metrics: PrometheusMetrics) -> None:
    prometheus.kill()
    started = time.monotonic()
    down = prometheus_metrics.snapshot(APP)
    assert time.monotonic() - started < 2.5
    assert isinstance(down, TelemetryUnavailable) and prometheus.url in down.reason
    assert isinstance(prometheus_metrics.history(APP), TelemetryUnavailable)
    prometheus.restart()
    wait_until(lambda: complete(prometheus_metrics.snapshot(APP)), 20, "figures after Prometheus restarted")


# ScrapeMetrics: CPU and memory from the process itself.

def test_scrape_takes_cpu_and_memory_from_the_process(fleet: Fleet, scrape_metrics: ScrapeMetrics) -> None:
    figures = figures_of(scrape_metrics.snapshot(APP))
    for replica in fleet.replicas:
        f = figures[replica.name]
        assert 0 < f.cpu_cores < psutil.cpu_count()
        assert f.cpu_limit_share == pytest.approx(f.cpu_cores / psutil.cpu_count())
        assert f.memory_bytes == pytest.approx(psutil.Process(replica.server.process.pid).memory_info().rss, rel=0.2)
        assert f.gpu_utilization is None  # no GPU here, so the runtime publishes no GPU gauges


def test_scrape_without_pid_uses_the_runtime_gauges(fleet: Fleet) -> None:
    source = ScrapeMetrics(lambda: [replace(p, pid=None) for p in fleet.pods()])
    try:
        f = figures_of(source.snapshot(APP, BATCH))["testapp-batch-a"]
        assert f.cpu_cores is not None and f.memory_bytes > 10 << 20
    finally:
        source.close()


def test_scrape_a_silent_pod_leaves_the_others(fleet: Fleet) -> None:
    silent = replace(fleet.pods()[0], name="testapp-web-silent", pid=None, metrics_address=f"127.0.0.1:{free_port()}")
    source = ScrapeMetrics(lambda: [*fleet.pods(), silent])
    try:
        figures = figures_of(source.snapshot(APP))
        assert figures["testapp-web-silent"].requests_per_second is None
        assert figures["testapp-web-a"].requests_per_second > 0
    finally:
        source.close()


def test_scrape_reports_a_failing_pod_list(fleet: Fleet) -> None:
    def broken() -> list:
        raise RuntimeError("supervisor gone")

    source = ScrapeMetrics(broken)
    try:
        answer = source.snapshot(APP)
        assert isinstance(answer, TelemetryUnavailable) and "supervisor gone" in answer.reason
    finally:
        source.close()
