"""The grpc.aio server: kanri API + Open Inference Protocol + health + reflection; and with
--http-port, on the same event loop and data plane, the HTTP transport (serving.rest).

Lifecycle: start, load the model (health turns SERVING), serve; on SIGTERM or
SIGINT turn NOT_SERVING, refuse new calls (HTTP: 503), let in-flight calls
finish within the grace period, exit 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import REGISTRY, start_http_server

from . import logs
from ._pb import open_inference_pb2, serving_pb2
from .auth import caller_auth
from .config import ServerSettings
from .dataplane import DataPlane, Identity
from .errors import ServingError, cannot_listen
from .kanri_api import AdminService, PredictionService
from .metrics import ProcessTreeCollector, RuntimeMetrics, gpu_collector
from .model_sync import SharedModelFile
from .models import LoadedModel, ModelHolder, ModelSpec, ModelStore
from .oip import InferenceService
from .predictor import PredictInterface, load_predictor_class
from .registration import add_service
from .rest.app import http_server
from .rpc import Runtime

if TYPE_CHECKING:
    from .tracing import Tracing

log = logging.getLogger("kanri.server")

SERVICES = (
    serving_pb2.DESCRIPTOR.services_by_name["PredictionService"],
    serving_pb2.DESCRIPTOR.services_by_name["AdminService"],
    open_inference_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"],
)
SERVICE_NAMES = tuple(service.full_name for service in SERVICES)


def grpc_options(settings: ServerSettings) -> list[tuple[str, int]]:
    size = settings.max_message_mb * 1024 * 1024
    return [("grpc.max_receive_message_length", size), ("grpc.max_send_message_length", size),
            ("grpc.so_reuseport", 1 if settings.workers > 1 else 0)]


class ServingServer:
    """Owns the gRPC server, the data plane and their lifecycle."""

    def __init__(self, settings: ServerSettings, predictor_cls: type[PredictInterface] | None = None) -> None:
        self.settings = settings
        identity = Identity(settings.app, settings.service_name, settings.service_level)
        self.metrics = RuntimeMetrics(REGISTRY, identity.app, identity.service, identity.service_level)
        self.store = ModelStore(settings.store_url)
        predictor_cls = predictor_cls or load_predictor_class(settings.predictor)
        self.holder = ModelHolder(predictor_cls, self.store, on_swap=self._on_swap)
        self.dataplane = DataPlane(identity, self.holder, self.metrics, settings.batch_max_size,
                                   settings.batch_max_wait_ms / 1000.0, settings.batching)
        request_log = logs.RequestLog(settings.request_log_sample, settings.request_log_per_second,
                                      settings.request_log_slow_ms / 1000.0)
        self.runtime = Runtime(self.dataplane, request_log, settings.admin_token, _start_tracing(settings),
                               caller_auth(settings))
        self.health = health.aio.HealthServicer()
        self.server = grpc.aio.server(options=grpc_options(settings))
        self.http = http_server(self.runtime, settings.max_message_mb * 1024 * 1024) if settings.http_port else None
        self.port = 0
        self.http_port = 0
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_model_change: list[Callable[[LoadedModel], None]] = []

    def _on_swap(self, new: LoadedModel, old: LoadedModel | None) -> None:
        previous = (old.version, old.sha256, old.format) if old else None
        self.metrics.model_loaded(new.version, new.sha256, new.format, new.load_seconds, previous)
        logs.set_model_version(new.version)
        if not self.dataplane.draining:
            self._set_health(health_pb2.HealthCheckResponse.SERVING)
        for callback in self.on_model_change:
            callback(new)
        settle_heap()

    def _set_health(self, status: int) -> None:
        """Called from sync code on the loop: the update runs as a task, kept until done."""
        for name in ("", *SERVICE_NAMES):
            task = asyncio.ensure_future(self.health.set(name, status))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def start(self) -> int:
        s = self.settings
        servicers = (PredictionService(self.runtime), AdminService(self.runtime, self.store),
                     InferenceService(self.runtime))
        for servicer, service in zip(servicers, SERVICES, strict=True):
            add_service(self.server, servicer, service)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server)
        address = f"{s.host}:{s.port}"
        try:
            if s.tls_cert:
                key_pair = (Path(s.tls_key).read_bytes(), Path(s.tls_cert).read_bytes())
                self.port = self.server.add_secure_port(address, grpc.ssl_server_credentials([key_pair]))
            else:
                self.port = self.server.add_insecure_port(address)
        except RuntimeError:
            self.port = 0
        if self.port == 0:
            raise OSError(f"cannot listen on {address}: the port is taken or the address is not local")
        if self.http is not None:
            await self._start_http()
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.dataplane.start()
        await self.server.start()
        log.info("listening on %s:%d (%s)", s.host, self.port, "TLS" if s.tls_cert else "plaintext",
                 extra={"port": self.port})
        return self.port

    async def _start_http(self) -> None:
        s = self.settings
        tls = None
        if s.tls_cert:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(s.tls_cert, s.tls_key)
        try:
            self.http_port = await self.http.start(s.host, s.http_port, s.workers > 1, tls)  # type: ignore[union-attr]
        except OSError as exc:
            raise cannot_listen(exc, s.host, s.http_port, " for HTTP", "--http-port") from None
        log.info("HTTP on %s:%d (%s)", s.host, self.http_port, "TLS" if tls else "plaintext",
                 extra={"http_port": self.http_port})

    async def load_initial_model(self) -> None:
        """Load --model; on failure keep running NOT_SERVING so a SwitchModel can fix it."""
        s = self.settings
        if not s.model:
            log.warning("started without a model: predictions answer UNAVAILABLE until SwitchModel")
            return
        try:
            await self.holder.switch(ModelSpec(s.model, s.model_sha256, s.model_version))
        except ServingError as exc:
            self.metrics.model_load_failed()
            log.error("model %s did not load: %s; serving nothing until SwitchModel succeeds", s.model, exc.message)

    async def drain(self) -> None:
        """NOT_SERVING, stop taking calls, let in-flight ones finish within the grace period."""
        if self.dataplane.draining:
            return
        self.dataplane.draining = True
        await self.health.enter_graceful_shutdown()
        if self.settings.drain_delay_seconds:
            log.info("NOT_SERVING; still answering for %.1fs", self.settings.drain_delay_seconds)
            await asyncio.sleep(self.settings.drain_delay_seconds)
        log.info("draining: in-flight calls have %.0fs to finish", self.settings.grace_seconds)
        grace = self.settings.grace_seconds
        await asyncio.gather(self.server.stop(grace), *([self.http.stop(grace)] if self.http is not None else []))
        await self.dataplane.stop()
        if self.runtime.tracing is not None:
            await asyncio.to_thread(self.runtime.tracing.shutdown)
        log.info("stopped")
        self._stopped.set()

    async def wait(self) -> None:
        await self._stopped.wait()


def settle_heap() -> None:
    """Put what is loaded now (modules, the live model) out of the garbage collector's sight.

    Full collections then scan only what requests allocate: with scikit-learn loaded each one
    scanned ~130,000 objects and took ~60 ms, the benchmark's p99 (seen once with a gc.callbacks
    probe under bench/serving.py; not a committed measurement). Frozen objects are still freed
    by reference counting; collecting before freezing frees the cycles of models replaced since
    the last switch, so nothing stays frozen for good.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _start_tracing(settings: ServerSettings) -> Tracing | None:
    """Tracing when an OTLP endpoint is set; without one, OpenTelemetry is never imported."""
    if not settings.otlp_endpoint:
        return None
    from .tracing import start_tracing

    log.info("exporting traces to %s", settings.otlp_endpoint)
    return start_tracing(settings)


def start_metrics_server(settings: ServerSettings) -> None:
    if not settings.metrics_port:
        return
    REGISTRY.register(ProcessTreeCollector())
    if gpu := gpu_collector():
        REGISTRY.register(gpu)
    start_http_server(settings.metrics_port, addr=settings.host)


async def serve(settings: ServerSettings, predictor_cls: type[PredictInterface] | None = None) -> None:
    """Run one server process until SIGTERM/SIGINT, then drain and return."""
    server = ServingServer(settings, predictor_cls)
    await server.start()
    start_metrics_server(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(server.drain()))
    await server.load_initial_model()
    follower = None
    if shared := os.environ.get("KANRI_SHARED_MODEL_FILE"):
        sync = SharedModelFile(Path(shared), server.holder)
        server.on_model_change.append(sync.publish)
        follower = asyncio.ensure_future(sync.follow())
    await server.wait()
    if follower:
        follower.cancel()
