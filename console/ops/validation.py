"""Checks every operation makes before it writes anything."""

from __future__ import annotations

from decimal import Decimal

from kanri.console.cluster.base import DNS_LABEL, SCALE_METRICS, Resources
from kanri.console.errors import Invalid
from kanri.console.ops import quantity
from kanri.serving.config import SERVICE_LEVELS


def dns_label(kind: str, name: str) -> str:
    if not DNS_LABEL.match(name):
        raise Invalid(f"{kind} name {name!r} is not a DNS label: use 1-63 lower-case letters, digits and '-', "
                      "starting with a letter and ending with a letter or digit")
    return name


def service_level(level: str) -> str:
    if level not in SERVICE_LEVELS:
        raise Invalid(f"service level {level!r} is not one of {', '.join(SERVICE_LEVELS)}")
    return level


def resources(wanted: Resources) -> None:
    """CPU and memory as the API server parses them, each request within its limit (the API server refuses a
    pod otherwise), and no negative GPU count."""
    for kind, request, limit in (("CPU", wanted.cpu_request, wanted.cpu_limit),
                                 ("memory", wanted.memory_request, wanted.memory_limit)):
        asked, most = _amount(kind, "request", request), _amount(kind, "limit", limit)
        if asked is not None and most is not None and asked > most:
            raise Invalid(f"{kind} request {request} is above its limit {limit}: raise the limit or lower the request")
    if wanted.gpus < 0:
        raise Invalid(f"GPU count cannot be negative, got {wanted.gpus}")


def _amount(kind: str, role: str, text: str) -> Decimal | None:
    """None when not given: nothing to compare (Kubernetes takes a missing request from the limit)."""
    if not text:
        return None
    try:
        amount = quantity.parse(text)
    except quantity.QuantityError as exc:
        raise Invalid(f"{kind} {role} {text!r} is not a Kubernetes {kind} quantity: {exc}") from exc
    if amount < 0:
        raise Invalid(f"{kind} {role} {text} is negative: give an amount of 0 or more")
    return amount


def replica_bounds(replicas: int, min_replicas: int, max_replicas: int, lowest: int = 1) -> None:
    """lowest: 0 where the service scales on its calls, which can wake it from zero."""
    if min_replicas < lowest:
        raise Invalid(f"min replicas must be at least {lowest}, got {min_replicas}"
                      + (" (only --concurrency or --rps autoscaling can scale to zero: at zero replicas there is no "
                         "CPU to measure)" if min_replicas == 0 else ""))
    if not min_replicas <= replicas <= max_replicas:
        raise Invalid(f"replicas must satisfy min ≤ replicas ≤ max, got {min_replicas} ≤ {replicas} ≤ {max_replicas}")


MAX_SCALE_TARGET = 100_000.0


def cpu_threshold(percent: int) -> int:
    if not 1 <= percent <= 100:
        raise Invalid(f"CPU threshold must be a percentage from 1 to 100, got {percent}")
    return percent


def scaling(metric: str, target: float, scale_to_zero_after: float) -> None:
    if metric not in SCALE_METRICS:
        raise Invalid(f"autoscaling follows one of {', '.join(SCALE_METRICS)}, got {metric!r}")
    if metric == "cpu":
        cpu_threshold(int(target))
    elif not 0 < target <= MAX_SCALE_TARGET:  # nan too
        what = "calls in flight" if metric == "concurrency" else "calls per second"
        raise Invalid(f"the target of {what} per replica must be above 0 and at most {MAX_SCALE_TARGET:g}, "
                      f"got {target:g}")
    if scale_to_zero_after < 0:
        raise Invalid(f"scale to zero after must be a duration of 0 or more, got {scale_to_zero_after:g}s")


def rollout_policy(max_surge: int, max_unavailable: int, min_ready_seconds: int,
                   progress_deadline_seconds: float | None) -> None:
    """progress_deadline_seconds: the cluster's (None: it has none to keep below)."""
    if max_surge < 0 or max_unavailable < 0 or min_ready_seconds < 0:
        raise Invalid("max surge, max unavailable and min ready seconds cannot be negative")
    if max_surge == 0 and max_unavailable == 0:
        raise Invalid("max surge and max unavailable cannot both be 0: a rolling update could never start")
    if progress_deadline_seconds is not None and min_ready_seconds >= progress_deadline_seconds:
        raise Invalid(f"min ready seconds {min_ready_seconds} is not below the cluster's progress deadline of "
                      f"{progress_deadline_seconds:g} s, so every rollout would be reported stuck before its new "
                      "replicas count as available: lower min ready seconds")


RESERVED_PORTS = {8080: "the runtime's HTTP port", 9102: "the runtime's metrics port"}  # in every pod


def port(number: int) -> int:
    if not 1 <= number <= 65535:
        raise Invalid(f"port must be between 1 and 65535, got {number}")
    if number in RESERVED_PORTS:
        raise Invalid(f"port {number} is {RESERVED_PORTS[number]} on Kubernetes; choose another gRPC port")
    return number


def weights(level_services: set[str], requested: dict[str, int]) -> None:
    unknown = set(requested) - level_services
    if unknown:
        known = ", ".join(sorted(level_services)) or "none"
        raise Invalid(f"not a service at this level: {', '.join(sorted(unknown))} (services here: {known})")
    negative = [name for name, weight in requested.items() if not 0 <= weight <= 100]
    if negative:
        raise Invalid(f"weights must be between 0 and 100: {', '.join(negative)}")
    total = sum(requested.values())
    if total != 100:
        raise Invalid(f"weights must sum to 100, these sum to {total}")
