"""Run real `kanri serve` processes on free loopback ports for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kanri.console.cluster.local.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
PREDICTORS = "tests.support.predictors"


def health_status(target: str, service: str = "", timeout: float = 1.0) -> int | None:
    with grpc.insecure_channel(target) as channel:
        try:
            return health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout).status
        except grpc.RpcError:
            return None


@dataclass
class ServeProcess:
    process: subprocess.Popen
    port: int
    metrics_port: int
    log_path: Path
    args: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.log_path.read_text()

    def wait_health(self, status: int = health_pb2.HealthCheckResponse.SERVING, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kanri serve exited with {self.process.returncode}:\n{self.logs()[-3000:]}")
            if health_status(self.target) == status:
                return
            time.sleep(0.05)
        raise TimeoutError(f"kanri serve not {status} after {timeout}s:\n{self.logs()[-3000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_serve(tmp: Path, predictor: str, model: str | None = None, *extra: str,
                env: dict[str, str] | None = None, wait: bool = True) -> ServeProcess:
    port, metrics_port = free_port(), free_port()
    args = [sys.executable, "-m", "kanri.serving", "serve", "--predictor", predictor, "--app", "testapp",
            "--service", "testapp-dev", "--port", str(port), "--metrics-port", str(metrics_port),
            "--model-store", str(tmp / "store"), *extra]
    if model:
        args += ["--model", model]
    log_path = tmp / f"serve-{port}.log"
    process = subprocess.Popen(args, cwd=ROOT, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    server = ServeProcess(process, port, metrics_port, log_path, args)
    if wait:
        server.wait_health()
    return server
