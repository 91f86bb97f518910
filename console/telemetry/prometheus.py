"""MetricsSource over Prometheus (cluster mode), through prometheus-api-client.

A snapshot runs one query per figure for all pods at once, all at the same
time on the source's threads, and rolls pods up into services itself: a
refresh costs the same 10 queries (11 with recorded latency) whatever the
number of pods. History asks Prometheus for each figure's series per pod and
per service (quantiles of services cannot be rolled up from series of pods'
quantiles).

Latency is the expensive figure: its raw form rates every bucket series. Where
Prometheus runs kanri's recording rules (`kanri render latency-rules`), both read
the quantiles those keep instead; the source checks for their series once a
minute and falls back to the raw buckets while they are absent.

One query failing makes the whole answer unavailable rather than quietly
incomplete, and every call shares one deadline. Requests are not retried: the
next refresh is the retry.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from kanri.console.telemetry import rollup
from kanri.console.telemetry.bounded import BoundedCalls
from kanri.console.telemetry.promql import QUANTILES, Labels, Queries
from kanri.console.telemetry.rollup import PodRates
from kanri.console.telemetry.types import (
    Figures,
    MetricsHistory,
    MetricsSnapshot,
    PodFigures,
    Series,
    ServiceFigures,
    TelemetryUnavailable,
)

K = TypeVar("K")
T = TypeVar("T")
H = TypeVar("H", bound=Hashable)
Samples = list[tuple[dict[str, str], T]]

RECORDED_CHECK_SECONDS = 60.0


class PrometheusMetrics:
    def __init__(self, url: str, *, labels: Labels | None = None, rate_window: str = "1m",
                 namespace: str | None = None, timeout: float = 2.0, headers: dict[str, str] | None = None,
                 recorded: bool | None = None) -> None:
        """`recorded`: None reads the recording rules' latency series where Prometheus has them;
        True or False always (or never) does."""
        self.url = url
        self.queries = Queries(labels or Labels(), rate_window, namespace)
        self._client = PrometheusConnect(url, headers=headers, timeout=timeout, retry=Retry(total=0))
        self._calls = BoundedCalls(f"Prometheus at {url}", timeout)
        self._recorded = recorded
        self._recorded_found, self._recorded_checked_at = False, -math.inf

    def snapshot(self, app: str, service: str | None = None) -> MetricsSnapshot | TelemetryUnavailable:
        taken_at, deadline = time.time(), self._calls.deadline()
        recorded = self.uses_recorded(deadline)
        if isinstance(recorded, TelemetryUnavailable):
            return recorded
        answers = self._ask(self.queries.pod_rates(app, service, recorded),
                            lambda q: _values(self._client.custom_query(q, params={"time": taken_at})), deadline)
        if isinstance(answers, TelemetryUnavailable):
            return answers
        n = self.queries.labels
        pod_quantiles = _quantiles(answers.pop("pod_quantiles", []), lambda labels: (
            labels.get(n.service, ""), labels.get(n.pod, "")))
        service_quantiles = _quantiles(answers.pop("service_quantiles", []), lambda labels: labels.get(n.service, ""))
        fields: dict[tuple[str, str], dict[str, Any]] = {}
        for name, samples in answers.items():
            for labels, value in samples:
                pod = fields.setdefault((labels.get(n.service, ""), labels.get(n.pod, "")), {})
                if name == "latency_buckets":
                    pod.setdefault(name, {})[float(labels["le"])] = value
                else:
                    pod[name] = value
        services: dict[str, list[tuple[str, PodRates]]] = {}
        for (service_name, pod), values in sorted(fields.items()):
            services.setdefault(service_name, []).append((pod, PodRates(**values)))
        return MetricsSnapshot(app, taken_at, tuple(
            ServiceFigures(name, _figures([rates for _, rates in pods], service_quantiles.get(name)),
                           tuple(PodFigures(pod, name, _figures([rates], pod_quantiles.get((name, pod))))
                                 for pod, rates in pods))
            for name, pods in services.items()))

    def history(self, app: str, service: str | None = None, window_seconds: float = 300.0,
                step_seconds: float = 10.0) -> MetricsHistory | TelemetryUnavailable:
        end, deadline = datetime.now(UTC), self._calls.deadline()
        start = end - timedelta(seconds=window_seconds)
        recorded = self.uses_recorded(deadline)
        if isinstance(recorded, TelemetryUnavailable):
            return recorded
        queries = {(level, figure): query for level in ("pod", "service")
                   for figure, query in self.queries.figures(app, service, level, recorded).items()}
        answers = self._ask(queries, lambda q: _series(
            self._client.custom_query_range(q, start, end, f"{step_seconds:g}s")), deadline)
        if isinstance(answers, TelemetryUnavailable):
            return answers
        n = self.queries.labels
        per: dict[str, dict[str, dict[str, Series]]] = {"pod": {}, "service": {}}
        for (level, figure), samples in answers.items():
            for labels, series in samples:
                name = labels.get(n.pod if level == "pod" else n.service, "")
                per[level].setdefault(name, {})[figure] = series
        return MetricsHistory(app, window_seconds, per["service"], per["pod"])

    def close(self) -> None:
        self._calls.close()

    def uses_recorded(self, deadline: float | None = None) -> bool | TelemetryUnavailable:
        """Whether latency comes from the recording rules' series: as set, else whether Prometheus holds them
        (asked once a minute)."""
        if self._recorded is not None:
            return self._recorded
        if time.monotonic() - self._recorded_checked_at < RECORDED_CHECK_SECONDS:
            return self._recorded_found
        answer = self._calls.run(lambda: self._client.custom_query(self.queries.recorded_present()), deadline)
        if isinstance(answer, TelemetryUnavailable):
            return answer
        self._recorded_found, self._recorded_checked_at = bool(answer), time.monotonic()
        return self._recorded_found

    def _ask(self, queries: dict[K, str], run: Callable[[str], Samples[T]],
             deadline: float) -> dict[K, Samples[T]] | TelemetryUnavailable:
        """Every query's answer, all run at once, or the first failure."""
        results = self._calls.run_all({key: partial(run, query) for key, query in queries.items()}, deadline)
        for answer in results.values():
            if isinstance(answer, TelemetryUnavailable):
                return answer
        return results  # type: ignore[return-value]


def _values(answer: Any) -> Samples[float]:
    """An instant query's answer as (labels, value); series whose value is NaN (0/0: no traffic) are left out."""
    return [(item["metric"], v) for item in answer if (v := _number(item["value"][1])) is not None]


def _figures(pods: list[PodRates], recorded_quantiles: dict[str, float] | None) -> Figures:
    """Figures rolled up from the pods' rates; latency quantiles from the recording rules where they gave some."""
    return replace(rollup.figures(pods), **(recorded_quantiles or {}))


def _quantiles(samples: Samples[float], key: Callable[[dict[str, str]], H]) -> dict[H, dict[str, float]]:
    """Recorded quantile samples as Figures fields (p50_seconds, ...) by pod or service."""
    found: dict[H, dict[str, float]] = {}
    for labels, value in samples:
        if (figure := QUANTILES.get(labels.get("quantile", ""))) is not None:
            found.setdefault(key(labels), {})[figure] = value
    return found


def _series(answer: Any) -> Samples[Series]:
    return [(item["metric"], Series(tuple((float(t), v) for t, raw in item["values"]
                                          if (v := _number(raw)) is not None)))
            for item in answer]


def _number(raw: str) -> float | None:
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value
