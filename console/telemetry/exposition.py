"""One scrape of a replica's /metrics, reduced to the counters and gauges the figures come from."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from kanri.console.telemetry.promql import SERVER_FAULT_CODES


@dataclass(frozen=True)
class Reading:
    """Counters summed over methods and model versions, read at `at` (monotonic seconds)."""

    at: float
    requests: float = 0.0
    faults: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count
    in_flight: float | None = None
    cpu_seconds: float | None = None
    memory_bytes: float | None = None
    gpu_utilization: float | None = None
    gpu_memory_bytes: float | None = None


def parse(text: str, at: float) -> Reading:
    """The runtime's exposition text as a Reading; raises ValueError on text that is not exposition format."""
    requests = faults = 0.0
    buckets: dict[float, float] = {}
    gauges: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kanri_requests_total":
                requests += sample.value
                faults += sample.value if sample.labels.get("code") in SERVER_FAULT_CODES else 0.0
            elif sample.name == "kanri_request_duration_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            else:
                gauges.setdefault(sample.name, []).append(sample.value)
    gpu_busy = gauges.get("kanri_gpu_utilization_ratio")
    return Reading(
        at=at, requests=requests, faults=faults, buckets=buckets,
        in_flight=_sum(gauges.get("kanri_requests_in_flight")),
        cpu_seconds=_sum(gauges.get("kanri_process_cpu_seconds")),
        memory_bytes=_sum(gauges.get("kanri_process_resident_memory_bytes")),
        gpu_utilization=sum(gpu_busy) / len(gpu_busy) if gpu_busy else None,
        gpu_memory_bytes=_sum(gauges.get("kanri_gpu_memory_used_bytes")))


def _sum(values: list[float] | None) -> float | None:
    return sum(values) if values else None
