"""--workers N: N server processes on one port (SO_REUSEPORT), one supervisor; the HTTP port likewise.

Before starting them the supervisor binds each port once without SO_REUSEPORT:
another server holding the port then makes `kanri serve` fail at once, as a
single process does, where workers would share the port with another
`kanri serve` without a word, or fail and be restarted for ever. The
supervisor serves the merged /metrics of all workers (prometheus_client's
multiprocess mode), restarts a worker that dies, and on SIGTERM/SIGINT passes
the signal on and waits for every worker to drain. A model switch received by
one worker reaches the others through a shared file (serving.model_sync).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .config import ServerSettings
from .errors import cannot_listen

log = logging.getLogger("kanri.workers")

RESTART_BACKOFF_S = (0.5, 1, 2, 5, 10)


def _spawn(settings: ServerSettings, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Workers keep workers=N (which turns SO_REUSEPORT on); the supervisor serves /metrics.
    child = replace(settings, metrics_port=0)
    payload = json.dumps(child.to_dict())
    return subprocess.Popen([sys.executable, "-m", "kanri.serving.worker"],
                            env={**env, "KANRI_WORKER_SETTINGS": payload, "KANRI_SUPERVISOR_PID": str(os.getpid())})


def claim_ports(settings: ServerSettings) -> ServerSettings:
    """The settings with their gRPC and HTTP ports checked free (for port 0, one the system chose);
    OSError naming the port if another listener holds it."""
    ports = {"port": ("", "--port")} | ({"http_port": (" for HTTP", "--http-port")} if settings.http_port else {})
    chosen = {}
    for field, (what, option) in ports.items():
        port = getattr(settings, field)
        family, kind, proto, _, address = socket.getaddrinfo(settings.host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc and asyncio do: TIME_WAIT is no owner
            try:
                probe.bind(address)
            except OSError as exc:
                raise cannot_listen(exc, settings.host, port, what, option) from None
            chosen[field] = probe.getsockname()[1]
    return replace(settings, **chosen)


def supervise(settings: ServerSettings) -> int:
    settings = claim_ports(settings)
    state = Path(tempfile.mkdtemp(prefix="kanri-workers-"))
    metrics_dir = state / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
           "KANRI_SHARED_MODEL_FILE": str(state / "model.json")}
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    _serve_merged_metrics(settings)
    workers = [_spawn(settings, env) for _ in range(settings.workers)]
    restarts = [0] * len(workers)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("supervising %d workers on port %d%s", settings.workers, settings.port,
             f" and HTTP port {settings.http_port}" if settings.http_port else "")
    while not stopping:
        time.sleep(0.2)
        for i, worker in enumerate(workers):
            if worker.poll() is not None and not stopping:
                delay = RESTART_BACKOFF_S[min(restarts[i], len(RESTART_BACKOFF_S) - 1)]
                log.error("worker %d (pid %d) exited with %d; restarting in %.1fs",
                          i, worker.pid, worker.returncode, delay)
                _mark_dead(worker.pid)
                time.sleep(delay)
                restarts[i] += 1
                if not stopping:
                    workers[i] = _spawn(settings, env)
    codes = [worker.wait() for worker in workers]
    shutil.rmtree(state, ignore_errors=True)
    log.info("all workers stopped", extra={"exit_codes": codes})
    # A worker the stop signal reached before it installed its handler (still starting) died of it: stopped, not
    # failed.
    return 0 if all(code in (0, -signal.SIGTERM, -signal.SIGINT) for code in codes) else 1


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client


def _serve_merged_metrics(settings: ServerSettings) -> None:
    if not settings.metrics_port:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    from .metrics import ProcessTreeCollector, gpu_collector

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
    registry.register(ProcessTreeCollector())
    if gpu := gpu_collector():
        registry.register(gpu)
    start_http_server(settings.metrics_port, addr=settings.host, registry=registry)
