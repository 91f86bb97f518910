"""The small pure parts of console/telemetry: quantiles, counter increases, label names, timestamps."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kanri.console import config
from kanri.console.cli import main
from kanri.console.telemetry import FIGURE_NAMES, Labels, PrometheusMetrics, levels_at_least
from kanri.console.telemetry.histogram import quantile
from kanri.console.telemetry.pod_logs import _kubelet_nanos
from kanri.console.telemetry.promql import Queries
from kanri.console.telemetry.rollup import PodRates, figures
from kanri.console.telemetry.scrape import _increase
from kanri.console.wiring import metrics_source
from tests.fakes.pod_logs import rfc3339_nano
from tests.support.prometheus import promtool_test_rules


def test_quantile_interpolates_inside_the_bucket_as_prometheus_does() -> None:
    buckets = {0.1: 50.0, 0.2: 90.0, 0.5: 100.0, math.inf: 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.7, buckets) == pytest.approx(0.15)  # rank 70: 20 of the 40 in (0.1, 0.2]
    assert quantile(0.25, buckets) == pytest.approx(0.05)  # the first bucket starts at 0
    assert quantile(0.99, {0.1: 10.0, math.inf: 20.0}) == 0.1  # in +Inf: the highest finite bound
    assert quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert quantile(0.5, {}) is None


def test_increase_counts_a_restart_from_zero() -> None:
    assert _increase([5.0, 10.0, 2.0, 4.0]) == 5 + 2 + 2
    assert _increase([3.0]) == 0


def test_queries_use_the_cluster_label_names() -> None:
    labels = Labels(pod="pod_name", namespace="kubernetes_namespace", container="container_name",
                    app="kanri_app", service="kanri_service")
    queries = Queries(labels, rate_window="2m", namespace="ml").figures("digits", "digits-production", "pod")
    assert set(queries) == set(FIGURE_NAMES)
    default_names = re.compile(r"(?<![\w\"])(pod|namespace|container|app|service)\s*(,|\)|=|!=|=~)")
    for figure, query in queries.items():
        assert not default_names.search(query), figure
        assert 'kanri_app="digits", kanri_service="digits-production"' in query, figure
    assert 'kubernetes_namespace="ml"' in queries["cpu_cores"]
    assert "[2m]" in queries["requests_per_second"]


def test_latency_rules_keep_quantiles_of_pods_and_services(tmp_path: Path) -> None:
    """promtool runs the rules on known bucket counters: pod quantiles, service quantiles from the pods' summed
    buckets, the cluster's label names, and only the configured namespace."""
    labels = Labels(pod="pod_name", namespace="kubernetes_namespace", app="kanri_app", service="kanri_service")
    queries = Queries(labels, rate_window="1m", namespace="ml")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [queries.latency_rules("15s")]}))

    def buckets(pod: str, per_second: dict[str, int], namespace: str = "ml") -> list[dict[str, str]]:
        """Cumulative counters at 15 s samples: `per_second` calls a second at or under each bound."""
        identity = (f'kanri_app="digits", kanri_service="digits-a", pod_name="{pod}", '
                    f'kubernetes_namespace="{namespace}", method="Predict"')
        return [{"series": f'kanri_request_duration_seconds_bucket{{{identity}, le="{le}"}}',
                 "values": f"0+{rate * 15}x40"} for le, rate in per_second.items()]

    def expect(level: str, quantile: str, value: float, pod: str | None = None) -> dict:
        """The recorded series of `pod` (or of the service), rounded as interpolation leaves 0.15000000000000002."""
        where = f'kanri_app="digits", kanri_service="digits-a", kubernetes_namespace="ml", quantile="{quantile}"'
        where += f', pod_name="{pod}"' if pod else ""
        return {"expr": f"round({level}:kanri_request_duration_seconds:quantile_rate1m{{{where}}}, 0.0001)",
                "eval_time": "5m", "exp_samples": [{"labels": f"{{{where}}}", "value": value}]}

    # a-1: 1/s within 0.1 s, 1/s in (0.1, 0.2]; a-2: 1/s in (0.1, 0.2]; a pod of another namespace: ignored.
    series = [*buckets("a-1", {"0.1": 1, "0.2": 2, "+Inf": 2}), *buckets("a-2", {"0.1": 0, "0.2": 1, "+Inf": 1}),
              *buckets("elsewhere", {"0.1": 0, "0.2": 0, "+Inf": 50}, namespace="other")]
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "15s", "tests": [{
        "interval": "15s", "input_series": series, "promql_expr_test": [
            expect("pod", "0.5", 0.1, "a-1"), expect("pod", "0.99", 0.198, "a-1"),
            expect("pod", "0.5", 0.15, "a-2"), expect("pod", "0.99", 0.199, "a-2"),
            # summed: 1/s within 0.1 s, 3/s within 0.2 s
            expect("service", "0.5", 0.125), expect("service", "0.99", 0.1985),
            {"expr": 'pod:kanri_request_duration_seconds_bucket:rate1m{kubernetes_namespace="other"}',
             "eval_time": "5m", "exp_samples": []}]}]}
    result = promtool_test_rules(tmp_path, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kanri_renders_the_rules_the_default_source_reads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KANRI_HOME", str(tmp_path))
    monkeypatch.setenv("KANRI_CLUSTER", "kubernetes")
    monkeypatch.setenv("KANRI_KUBERNETES_NAMESPACE", "ml")
    result = CliRunner().invoke(main, ["render", "latency-rules", "--interval", "30s"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [group] = yaml.safe_load(result.stdout)["groups"]
    assert group == Queries(Labels(), namespace="ml").latency_rules("30s")
    monkeypatch.setenv("KANRI_PROMETHEUS_URL", "http://127.0.0.1:9")
    source = metrics_source(config.load(), list)  # as `kanri top` makes it
    assert isinstance(source, PrometheusMetrics)
    recorded = {source.queries.recorded("pod"), source.queries.recorded("service")}
    source.close()
    assert recorded < {rule["record"] for rule in group["rules"]}


def test_levels_at_least() -> None:
    assert levels_at_least("warning") == {"warning", "error", "critical"}
    with pytest.raises(ValueError, match="unknown log level"):
        levels_at_least("loud")


@pytest.mark.parametrize("nanos", [1_795_000_000_123_456_789, 1_795_000_000_100_000_000, 1_795_000_000_000_000_000])
def test_kubelet_timestamps_keep_nanoseconds(nanos: int) -> None:
    assert _kubelet_nanos(rfc3339_nano(nanos)) == nanos


def test_a_service_rolls_up_its_pods_from_their_rates() -> None:
    fast = PodRates(requests_per_second=90.0, faults_per_second=0.0, latency_buckets={0.01: 90.0, math.inf: 90.0},
                    cpu_cores=0.5, cpu_limit_cores=1.0, gpu_utilization=0.2, gpu_memory_bytes=100.0, restarts=1)
    slow = PodRates(requests_per_second=10.0, faults_per_second=5.0, latency_buckets={0.01: 0.0, math.inf: 10.0},
                    cpu_cores=1.5, cpu_limit_cores=1.0, gpu_utilization=0.6, gpu_memory_bytes=100.0, restarts=0)
    service = figures([fast, slow])
    assert service.requests_per_second == 100 and service.error_ratio == pytest.approx(0.05)
    assert service.p50_seconds == pytest.approx(0.01 * 50 / 90)  # from the summed buckets, not the pods' p50s
    assert service.p99_seconds == 0.01  # the rank falls in +Inf: the highest finite bound
    assert service.cpu_limit_share == pytest.approx(2.0 / 2.0) and service.restarts == 1
    assert service.gpu_utilization == pytest.approx(0.4) and service.gpu_memory_bytes == 200
    shared = figures([fast, slow], one_machine=True)  # one machine: its cores and its GPU count once
    assert shared.cpu_limit_share == pytest.approx(2.0) and shared.gpu_memory_bytes == 100
    assert figures([PodRates(requests_per_second=0.0)]).error_ratio is None
