"""One replica: a `kanri serve` process, its health probes, and its restarts with back-off."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import signal
import string
import sys
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..base import REPLICA_WORKERS, ServiceSpec
from .paths import LocalPaths
from .podlog import last_error, tail
from .processes import BACKOFF_RESET_SECONDS, ProcessHandle, free_port, restart_delay
from .settings import SupervisorSettings
from .state import PodRecord

SERVING = health_pb2.HealthCheckResponse.SERVING
POD_MARKER = "kanri.serving serve"
PROBE_CHANNEL = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
                 ("grpc.max_reconnect_backoff_ms", 1000)]
"""A replica's first probes come before it listens; with gRPC's default back-off (1 s, growing) it would be
seen ready up to seconds late, and a call held for a service waking from zero would wait that out."""


def pod_template(spec: ServiceSpec) -> str:
    """A digest of what a replica is started with: a change means new replicas (a rolling update)."""
    fields = {k: v for k, v in dataclasses.asdict(spec).items()
              if k in ("predictor", "model", "model_store", "resources", "image", "app", "name", "level")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]


def serve_command(spec: ServiceSpec, settings: SupervisorSettings) -> list[str]:
    """`kanri serve` for a replica of spec, without its ports (gRPC, metrics, HTTP: chosen at each start); one worker:
    the local cluster scales by replicas, as Kubernetes by pods."""
    return [sys.executable, "-m", "kanri.serving", "serve", "--predictor", spec.predictor,
            "--model", spec.model.uri, "--sha256", spec.model.sha256, "--model-version", str(spec.model.version),
            "--model-store", spec.model_store, "--app", spec.app, "--service", spec.name,
            "--service-level", spec.level, "--host", "127.0.0.1", "--workers", str(REPLICA_WORKERS),
            "--drain-delay-seconds", str(settings.drain_delay_seconds), "--grace-seconds", str(settings.grace_seconds)]


class Replica:
    def __init__(self, record: PodRecord, handle: ProcessHandle | None, paths: LocalPaths,
                 settings: SupervisorSettings) -> None:
        self.record = record
        self.handle = handle
        self.paths = paths
        self.settings = settings
        self._channel: grpc.aio.Channel | None = None
        self._probe_failures = 0
        self._failing_since = 0.0  # when the current run of failed health checks began
        self._error_read: tuple[tuple[int, int], str] = ((-1, -1), "")
        """(log offset, log size) when startup_error last read the log, and what it found."""

    @classmethod
    def create(cls, spec: ServiceSpec, template: str, paths: LocalPaths, settings: SupervisorSettings,
               now: float) -> Replica:
        suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        record = PodRecord(name=f"{spec.name}-{template[:8]}-{suffix}", app=spec.app, service=spec.name,
                           level=spec.level, template=template, model_version=spec.model.version, created_at=now,
                           command=serve_command(spec, settings))
        replica = cls(record, None, paths, settings)
        replica.start(now)
        return replica

    @classmethod
    def adopt(cls, record: PodRecord, paths: LocalPaths, settings: SupervisorSettings) -> Replica:
        """A replica recorded by a previous supervisor; its process is taken over if it still runs."""
        handle = ProcessHandle.adopt(record.pid, record.create_time, f"--port {record.port}")
        return cls(record, handle, paths, settings)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.record.port}"

    @property
    def http_address(self) -> str:
        return f"127.0.0.1:{self.record.http_port}"

    @property
    def log_path(self) -> Path:
        r = self.record
        return self.paths.pod_log(r.app, r.service, r.name)

    @property
    def terminating(self) -> bool:
        return self.record.terminating_since is not None

    def start(self, now: float) -> None:
        r = self.record
        r.port, r.metrics_port, r.http_port = free_port(), free_port(), free_port()
        r.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        args = [*r.command, "--port", str(r.port), "--metrics-port", str(r.metrics_port),
                "--http-port", str(r.http_port)]
        self.handle = ProcessHandle.spawn(args, self.log_path, {**os.environ, "KANRI_POD": r.name})
        r.pid, r.create_time, r.started_at = self.handle.pid, self.handle.create_time, now
        r.phase, r.ready, r.ready_since = "Pending", False, None
        self._probe_failures = 0

    async def check_process(self, now: float) -> None:
        """Notice an exit and schedule the restart; start it when its back-off is over."""
        r = self.record
        if self.handle is not None and not self.handle.alive():
            r.last_exit = self.handle.exit_description()
            self.handle = None
            await self._close_channel()
            r.ready, r.ready_since, r.pid = False, None, None
            if self.terminating:
                return
            r.restarts += 1
            r.backoff_restarts += 1
            r.restart_at = now + restart_delay(r.backoff_restarts, self.settings.restart_backoff_max_seconds)
            r.phase = "CrashLoopBackOff"
        if self.handle is None and not self.terminating and now >= r.restart_at:
            self.start(now)

    async def probe(self, now: float) -> None:
        """Readiness is SERVING; a replica that does not answer at all for long enough is killed (liveness)."""
        r = self.record
        if self.handle is None or self.terminating:
            return
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.address, options=PROBE_CHANNEL)
        try:
            answer = await health_pb2_grpc.HealthStub(self._channel).Check(
                health_pb2.HealthCheckRequest(), timeout=self.settings.probe_timeout_seconds)
        except grpc.RpcError:
            self._probe_failed(now)
            return
        self._probe_failures = 0
        r.phase = "Running"
        r.ready = answer.status == SERVING
        if not r.ready:
            r.ready_since = None
        elif r.ready_since is None:
            r.ready_since = now
        elif now - r.ready_since >= BACKOFF_RESET_SECONDS:
            r.backoff_restarts = 0

    def _probe_failed(self, now: float) -> None:
        r = self.record
        r.ready, r.ready_since = False, None
        self._probe_failures += 1
        if self._probe_failures == 1:
            self._failing_since = now
        patience = (self.settings.liveness_failures - 1) * self.settings.tick_seconds  # whatever the tick's pace
        if (self._probe_failures >= self.settings.liveness_failures and now - self._failing_since >= patience
                and now - r.started_at >= self.settings.startup_seconds and self.handle is not None):
            r.last_exit = f"killed after {self._probe_failures} health checks without an answer"
            self.handle.signal(signal.SIGKILL)

    def terminate(self, now: float) -> None:
        """SIGTERM: the replica drains (keeps answering for the drain delay, then finishes in-flight calls)."""
        r = self.record
        r.terminating_since, r.phase, r.ready = now, "Terminating", False
        if self.handle is not None:
            self.handle.signal(signal.SIGTERM)

    async def gone(self, now: float) -> bool:
        """For a terminating replica: True once its process exited; SIGKILL when it overstays its grace."""
        if self.handle is None or not self.handle.alive():
            await self._close_channel()
            return True
        limit = self.settings.drain_delay_seconds + self.settings.grace_seconds + 5.0
        if now - (self.record.terminating_since or now) > limit:
            self.handle.signal(signal.SIGKILL)
        return False

    def trouble(self) -> str:
        """Why this replica is not ready, from its log: its last error, else its last lines."""
        r = self.record
        words = last_error(self.log_path, 0) or tail(self.log_path, 0)
        exit = f"{r.last_exit}, restarted {r.restarts} times; " if r.restarts else ""
        return f"replica {r.name} is not ready: {exit}{words or 'no output'}"

    def startup_error(self) -> str:
        """The error this run logged while not ready (a model that failed to load), or "". Asked several times a
        tick (autoscaling, rollout, the routers' table) while a replica starts: the log is read again only once
        it has grown."""
        if self.record.ready:
            return ""
        try:
            size = self.log_path.stat().st_size
        except OSError:
            size = -1
        seen = (self.record.log_offset, size)
        if self._error_read[0] != seen:
            self._error_read = (seen, last_error(self.log_path, self.record.log_offset))
        return self._error_read[1]

    def cpu_seconds(self) -> float | None:
        if self.handle is None:
            return None
        try:
            return self.handle.cpu_seconds()
        except psutil.Error:  # the process exited between two looks
            return None

    async def _close_channel(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()
