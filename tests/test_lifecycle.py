"""SIGTERM drains; --workers N shares one port, merges metrics and follows switches."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2

from kanri.serving.client import Client, ServingError
from tests.support.prometheus import wait_until
from tests.support.servers import PREDICTORS, ROOT, health_status, start_serve


def test_sigterm_turns_not_serving_finishes_in_flight_calls_and_exits_zero(
        tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--drain-delay-seconds", "1.5")
    slow: dict[str, object] = {}

    def slow_call() -> None:
        with Client(server.target) as client:
            slow["answer"] = client.predict("sleep:0.8")

    caller = threading.Thread(target=slow_call)
    caller.start()
    time.sleep(0.3)
    server.process.terminate()
    caller.join(10)
    assert slow["answer"].label == "one:sleep:0.8"  # type: ignore[attr-defined]
    assert health_status(server.target) == health_pb2.HealthCheckResponse.NOT_SERVING
    with Client(server.target) as client:  # still answering during the drain delay
        assert client.predict("late").label == "one:late"
    assert server.process.wait(15) == 0
    with Client(server.target, retries=0, timeout=2) as client, pytest.raises(ServingError) as error:
        client.predict("after exit")
    assert error.value.code == grpc.StatusCode.UNAVAILABLE
    assert '"message": "stopped"' in server.logs()


def test_workers_share_the_port_merge_metrics_and_follow_a_switch(tmp_path: Path,
                                                                  echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--model-version", "1",
                         "--workers", "2")

    def metrics() -> str:
        return urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).read().decode()

    try:
        deadline = time.monotonic() + 30
        while not re.search(r'kanri_model_loads_total\{.*result="ok".*\} 2\.0', metrics()):
            assert time.monotonic() < deadline, "both workers should load the model"
            time.sleep(0.1)
        calls = 40
        for _ in range(calls):  # a channel per call, so the kernel spreads them over the workers
            with Client(server.target) as client:
                assert client.predict("x").label == "one:x"
        answered_by = {line["pid"] for line in map(json.loads, re.findall(r"^{.*}$", server.logs(), re.M))
                       if line.get("method") == "Predict"}
        assert len(answered_by) == 2
        text = metrics()
        assert "kanri_processes 3.0" in text  # supervisor + 2 workers
        ok_line = next(line for line in text.splitlines()
                       if line.startswith("kanri_requests_total{") and 'method="Predict"' in line)
        assert float(ok_line.rsplit(" ", 1)[1]) == calls

        with Client(server.target) as client:
            client.switch_model(str(echo_models["v2"]), model_version="2")
        deadline = time.monotonic() + 10
        seen: set[str] = set()
        while time.monotonic() < deadline:
            seen = set()
            for _ in range(12):
                with Client(server.target) as client:
                    seen.add(client.predict("x").model_version)
            if seen == {"2"}:
                break
            time.sleep(0.2)
        assert seen == {"2"}
    finally:
        assert server.stop() == 0


def test_workers_end_when_their_supervisor_is_killed(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    """SIGKILL gives the supervisor no chance to stop its workers: they must notice and end by themselves
    (they used to keep serving the old model on the port, orphaned, for hours)."""
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--workers", "2")
    supervisor = psutil.Process(server.process.pid)
    workers = wait_until(lambda: len(supervisor.children()) == 2 and supervisor.children(), 30, "two workers")
    server.process.kill()
    server.process.wait(5)
    _, alive = psutil.wait_procs(workers, timeout=25)
    assert not alive, f"orphaned workers still running: {[p.pid for p in alive]}"
    with Client(server.target, retries=0, timeout=2) as client, pytest.raises(ServingError):
        client.predict("anyone there?")


def test_workers_refuse_a_port_another_server_holds_even_one_sharing_it(tmp_path: Path) -> None:
    """Workers bind with SO_REUSEPORT, so they would share the port of another server that does too (another
    `kanri serve` with workers) without a word; the supervisor checks the port first and fails like one process."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "kanri.serving", "serve", "--predictor", f"{PREDICTORS}:Echo",
                               "--port", str(port), "--workers", "2", "--model-store", str(tmp_path)],
                              capture_output=True, text=True, timeout=60, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use; pick another --port" in done.stderr
