"""Checks every operation makes before it writes anything."""

from __future__ import annotations

import re

from console.cluster.base import DNS_LABEL
from console.errors import Invalid
from serving.config import SERVICE_LEVELS

CPU = re.compile(r"^(\d+m|\d+(\.\d+)?)$")
MEMORY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T|k)?$")


def dns_label(kind: str, name: str) -> str:
    if not DNS_LABEL.match(name):
        raise Invalid(f"{kind} name {name!r} is not a DNS label: use 1-63 lower-case letters, digits and '-', "
                      "starting with a letter and ending with a letter or digit")
    return name


def service_level(level: str) -> str:
    if level not in SERVICE_LEVELS:
        raise Invalid(f"service level {level!r} is not one of {', '.join(SERVICE_LEVELS)}")
    return level


def cpu(quantity: str) -> str:
    if quantity and not CPU.match(quantity):
        raise Invalid(f"CPU {quantity!r} is not a Kubernetes CPU quantity such as 500m or 2")
    return quantity


def memory(quantity: str) -> str:
    if quantity and not MEMORY.match(quantity):
        raise Invalid(f"memory {quantity!r} is not a Kubernetes memory quantity such as 512Mi or 2Gi")
    return quantity


def replica_bounds(replicas: int, min_replicas: int, max_replicas: int) -> None:
    if min_replicas < 1:
        raise Invalid(f"min replicas must be at least 1, got {min_replicas}")
    if not min_replicas <= replicas <= max_replicas:
        raise Invalid(f"replicas must satisfy min ≤ replicas ≤ max, got {min_replicas} ≤ {replicas} ≤ {max_replicas}")


def cpu_threshold(percent: int) -> int:
    if not 1 <= percent <= 100:
        raise Invalid(f"CPU threshold must be a percentage from 1 to 100, got {percent}")
    return percent


def rollout_policy(max_surge: int, max_unavailable: int, min_ready_seconds: int) -> None:
    if max_surge < 0 or max_unavailable < 0 or min_ready_seconds < 0:
        raise Invalid("max surge, max unavailable and min ready seconds cannot be negative")
    if max_surge == 0 and max_unavailable == 0:
        raise Invalid("max surge and max unavailable cannot both be 0: a rolling update could never start")


def port(number: int) -> int:
    if not 1 <= number <= 65535:
        raise Invalid(f"port must be between 1 and 65535, got {number}")
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
