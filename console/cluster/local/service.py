"""One service as the supervisor runs it: replicas, healing, rolling update, autoscaling, rollout status."""

from __future__ import annotations

import asyncio
import logging

from ..base import ServiceSpec
from . import rolling
from .autoscaler import CpuMeter, cpu_cores, desired_replicas
from .call_autoscaler import CallAutoscaler, Sample
from .paths import LocalPaths
from .replica import Replica, pod_template
from .settings import SupervisorSettings
from .state import DesiredService, ServiceRecord, spec_from_dict, spec_to_dict

log = logging.getLogger("kanri.local.service")


def _replica_target(spec: ServiceSpec, current: int | None) -> int:
    if not spec.autoscale:
        return spec.replicas
    start = spec.replicas if current is None else current
    return min(max(start, spec.min_replicas), spec.max_replicas)


class ServiceController:
    def __init__(self, record: ServiceRecord, replicas: list[Replica], paths: LocalPaths,
                 settings: SupervisorSettings) -> None:
        self.record = record
        self.replicas = replicas
        self.paths = paths
        self.settings = settings
        self.spec = spec_from_dict(record.spec)
        self.template = pod_template(self.spec)
        self.deleted = False
        self._last_measured = 0.0
        self._calls: CallAutoscaler | None = None

    @classmethod
    def create(cls, desired: DesiredService, paths: LocalPaths, settings: SupervisorSettings,
               now: float) -> ServiceController:
        record = ServiceRecord(spec=spec_to_dict(desired.spec), generation=desired.generation,
                               replicas=_replica_target(desired.spec, None), last_progress_at=now)
        return cls(record, [], paths, settings)

    @classmethod
    def adopt(cls, record: ServiceRecord, paths: LocalPaths, settings: SupervisorSettings) -> ServiceController:
        """Take over the replicas a previous supervisor recorded; those whose process is gone restart."""
        replicas = [Replica.adopt(pod, paths, settings) for pod in record.pods]
        return cls(record, replicas, paths, settings)

    @property
    def active(self) -> list[Replica]:
        return [r for r in self.replicas if not r.terminating]

    def ready_replicas(self) -> list[Replica]:
        return [r for r in self.active if r.record.ready]

    def observe(self, desired: DesiredService, now: float) -> None:
        """Take a new generation of the spec: a new template rolls, a new replica count scales."""
        if desired.generation == self.record.generation and not self.deleted:
            return
        self.deleted = False
        self.spec = desired.spec
        self.template = pod_template(desired.spec)
        r = self.record
        r.spec, r.generation = spec_to_dict(desired.spec), desired.generation
        r.replicas = _replica_target(desired.spec, r.replicas if desired.spec.autoscale else None)
        r.last_progress_at = now

    def delete(self, now: float) -> None:
        self.deleted = True
        for replica in self.active:
            replica.terminate(now)

    @property
    def finished(self) -> bool:
        return self.deleted and not self.replicas

    async def heal(self, now: float) -> None:
        for replica in self.active:
            await replica.check_process(now)

    async def probe(self, now: float) -> None:
        await asyncio.gather(*(replica.probe(now) for replica in self.active))

    @property
    def scales_on_calls(self) -> bool:
        return self.spec.scales_on_calls and not self.deleted

    @property
    def dormant(self) -> bool:
        """Allowed to sleep at zero and without a ready replica now: the router holds its calls."""
        return self.scales_on_calls and self.spec.min_replicas == 0 and not self.ready_replicas()

    def autoscale_on_calls(self, sample: Sample) -> None:
        """Every tick: the replicas the calls ask for (call_autoscaler.py), at once, waking from zero too."""
        if not self.scales_on_calls:
            self._calls = None
            return
        if self._calls is None:
            self._calls = CallAutoscaler(self.settings.stable_window_seconds, self.settings.scale_down_delay_seconds)
        self._calls.observe(sample)
        r = self.record
        ready = len(self.ready_replicas())
        decision = self._calls.decide(self.spec, r.replicas, ready, failing=not ready and bool(self.start_failure()))
        r.scale_reason = decision.reason
        if decision.replicas != r.replicas:
            log.info("autoscaling %s/%s from %d to %d replicas: %s", self.spec.app, self.spec.name, r.replicas,
                     decision.replicas, decision.reason)
            r.replicas, r.last_scale_at = decision.replicas, sample.at

    def autoscale(self, meter: CpuMeter, now: float) -> None:
        """Every autoscale interval, move the replica target towards the CPU threshold, not within the cool-down."""
        spec, r = self.spec, self.record
        if not spec.autoscale or spec.scales_on_calls or self.deleted \
                or now - self._last_measured < self.settings.autoscale_interval_seconds:
            return
        self._last_measured = now
        request = cpu_cores(spec.resources.cpu_request) or 1.0
        utilizations = []
        for replica in self.active:
            cpu = replica.cpu_seconds() if replica.record.ready else None
            if cpu is not None and (used := meter.read(replica.record.pid or 0, cpu, now)) is not None:
                utilizations.append(used / request)
        target = desired_replicas(r.replicas, utilizations, spec.cpu_threshold, spec.min_replicas, spec.max_replicas,
                                  self.settings.autoscale_tolerance)
        r.scale_reason = (f"CPU {round(sum(utilizations) / len(utilizations))}% against {spec.cpu_threshold}%"
                          if utilizations else "measuring CPU")
        if target != r.replicas and now - r.last_scale_at >= self.settings.autoscale_cooldown_seconds:
            log.info("autoscaling %s/%s from %d to %d replicas (CPU %s%% against %d%%)", spec.app, spec.name,
                     r.replicas, target, [round(u) for u in utilizations], spec.cpu_threshold)
            r.replicas, r.last_scale_at = target, now

    def roll(self, now: float) -> None:
        if self.deleted:
            return
        step = rolling.plan([r.record for r in self.active], self.template, self.record.replicas,
                            self.spec.max_surge, self.spec.max_unavailable, self.spec.min_ready_seconds, now)
        leaving = {id(pod) for pod in step.remove}
        for replica in self.active:
            if id(replica.record) in leaving:
                replica.terminate(now)
        for _ in range(step.create):
            self.replicas.append(Replica.create(self.spec, self.template, self.paths, self.settings, now))

    async def reap(self, now: float) -> None:
        self.replicas = [r for r in self.replicas if not (r.terminating and await r.gone(now))]
        self.record.pods = [r.record for r in self.replicas]

    def update_status(self, now: float) -> None:
        r = self.record
        counts = rolling.count([x.record for x in self.active], self.template, r.replicas,
                               self.spec.min_ready_seconds, now)
        progress = [counts.total, counts.updated, counts.ready, counts.available]
        if progress != r.progress:
            r.progress, r.last_progress_at = progress, now
        r.rollout = {"desired": counts.desired, "updated": counts.updated, "ready": counts.ready,
                     "available": counts.available, "converged": counts.converged,
                     "stuck": "" if counts.converged else self._stuck_reason(now), "message": counts.message(),
                     "scale_reason": r.scale_reason if self.spec.autoscale else ""}

    def _unready(self) -> list[Replica]:
        return [x for x in self.active if x.record.template == self.template and not x.record.ready]

    def start_failure(self) -> str:
        """Why a new replica cannot start (a crash loop or a logged startup error), or ""."""
        for replica in self._unready():
            if replica.record.restarts >= self.settings.crash_loop_restarts or replica.startup_error():
                return replica.trouble()
        return ""

    def _stuck_reason(self, now: float) -> str:
        """Crash loop or logged error of a new replica at once; otherwise no progress within the deadline."""
        if failure := self.start_failure():
            return failure
        unready = self._unready()
        if now - self.record.last_progress_at > self.settings.progress_deadline_seconds:
            detail = f": {unready[0].trouble()}" if unready else ""
            return f"no progress for {self.settings.progress_deadline_seconds:.0f}s{detail}"
        return ""
