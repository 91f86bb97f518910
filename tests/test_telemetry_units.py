"""The small pure parts of console/telemetry: quantiles, counter increases, label names, timestamps."""

from __future__ import annotations

import math
import re

import pytest

from console.telemetry import FIGURE_NAMES, Labels, levels_at_least
from console.telemetry.histogram import quantile
from console.telemetry.pod_logs import _kubelet_nanos
from console.telemetry.promql import Queries
from console.telemetry.rollup import PodRates, figures
from console.telemetry.scrape import _increase
from tests.fakes.pod_logs import rfc3339_nano


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
