"""Rolling update planning as Kubernetes' Deployment controller does it, as pure functions.

Pods of the current template are "new", the rest "old". Each step may add new
pods while the total stays within desired + max surge, and remove old ones while
the available pods stay at least desired - max unavailable; a pod is available
once ready for min ready seconds. Unavailable old pods go first, as in
Kubernetes' cleanupUnhealthyReplicas.
"""

from __future__ import annotations

from dataclasses import dataclass

from .state import PodRecord


@dataclass(frozen=True)
class Plan:
    create: int
    remove: list[PodRecord]


@dataclass(frozen=True)
class Counts:
    desired: int
    total: int
    updated: int
    ready: int
    available: int

    @property
    def converged(self) -> bool:
        return self.updated == self.desired and self.total == self.desired and self.available == self.desired

    def message(self) -> str:
        """The words of `kubectl rollout status`."""
        if self.updated < self.desired:
            return (f"Waiting for rollout to finish: {self.updated} out of {self.desired} new replicas "
                    "have been updated...")
        if self.total > self.updated:
            return f"Waiting for rollout to finish: {self.total - self.updated} old replicas are pending termination..."
        if self.available < self.updated:
            return (f"Waiting for rollout to finish: {self.available} of {self.updated} updated replicas "
                    "are available...")
        return "successfully rolled out"


def _removal_order(pod: PodRecord) -> tuple[bool, float]:
    """Not-ready pods before ready ones, then the youngest first (Kubernetes' ranking, simplified)."""
    return pod.ready, -pod.created_at


def plan(pods: list[PodRecord], template: str, desired: int, max_surge: int, max_unavailable: int,
         min_ready_seconds: float, now: float) -> Plan:
    """One reconcile step for the pods that are not terminating."""
    new = [p for p in pods if p.template == template]
    old = [p for p in pods if p.template != template]
    create = max(0, min(desired - len(new), desired + max_surge - len(pods)))
    if not old:
        return Plan(create, sorted(new, key=_removal_order)[:max(0, len(new) - desired)])
    remove = sorted(new, key=_removal_order)[:max(0, len(new) - desired)]
    min_available = desired - max_unavailable
    new_unavailable = sum(not p.available(now, min_ready_seconds) for p in new)
    budget = len(pods) - min_available - new_unavailable
    if budget <= 0:
        return Plan(create, remove)
    unhealthy = sorted((p for p in old if not p.available(now, min_ready_seconds)), key=_removal_order)
    remove += unhealthy[:budget]
    available = sum(p.available(now, min_ready_seconds) for p in pods)
    healthy = sorted((p for p in old if p.available(now, min_ready_seconds)), key=_removal_order)
    remove += healthy[:max(0, available - min_available)]
    return Plan(create, remove)


def count(pods: list[PodRecord], template: str, desired: int, min_ready_seconds: float, now: float) -> Counts:
    return Counts(desired=desired, total=len(pods), updated=sum(p.template == template for p in pods),
                  ready=sum(p.ready for p in pods),
                  available=sum(p.available(now, min_ready_seconds) for p in pods))
