"""What the serving benchmark calls: one server's endpoint over gRPC or HTTP/1.1, the request it
sends there, and the check a real client's call must pass before and after every round."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from bench.procs import HOST, BenchError, Proc

STARTUP_TIMEOUT_S = 60.0
GRPC, HTTP = "gRPC", "HTTP"


@dataclass
class Target:
    """One configuration under test: where to call, what to send, and how to check an answer."""

    key: str
    label: str
    port: int
    method: str  # a gRPC method, or an HTTP path (POSTed to)
    request: bytes  # a serialised protobuf message, or a JSON body
    check: Callable[[bytes], None]  # raises BenchError on a wrong answer
    proc: Proc
    transport: str = GRPC
    processes: int = 1  # the server's processes (kanri: a supervisor and its workers, or one)
    response_len: int = 0  # bytes of one OK answer, for counting gRPC errors

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"


def unary_call(address: str, method: str, request: bytes, timeout: float = 5.0) -> bytes:
    """One raw unary gRPC call: bytes in, bytes out."""
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        return call(request, timeout=timeout)


def http_post(port: int, path: str, body: bytes, timeout: float = 5.0) -> bytes:
    """One JSON POST; BenchError unless it answers 200."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("POST", path, body, {"content-type": "application/json"})
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    if answer.status != 200:
        raise BenchError(f"POST {path} on port {port} answered {answer.status}: {data[:300]!r}")
    return data


def call(target: Target) -> bytes:
    """One call to the target with a real client."""
    if target.transport == HTTP:
        return http_post(target.port, target.method, target.request)
    try:
        return unary_call(target.address, target.method, target.request)
    except grpc.RpcError as err:
        raise BenchError(f"{target.label}: call failed: {err.code()} {err.details()}") from err


def verify(target: Target) -> None:
    """Call the target once, check the answer, record its size."""
    answer = call(target)
    target.check(answer)
    target.response_len = len(answer)


def oip_json_output(answer: bytes, name: str) -> Any:
    """The first element of output `name` in an Open Inference Protocol JSON answer."""
    for output in json.loads(answer)["outputs"]:
        if output["name"] == name:
            return output["data"][0]
    raise BenchError(f"no output {name!r} in {answer[:300]!r}")


def wait_ready(
    proc: Proc, probe: Callable[[], bool], fatal: str | None = None, timeout: float = STARTUP_TIMEOUT_S
) -> None:
    """Poll probe until it succeeds; fail with the log tail if the process dies, logs
    the fatal marker, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        if fatal and fatal in proc.log_tail():
            raise BenchError(f"{proc.name} logged an error while starting:\n{proc.log_tail()}")
        try:
            if probe():
                return
        except (grpc.RpcError, OSError, BenchError):
            pass  # not listening or not ready yet
        time.sleep(0.25)
    raise BenchError(f"{proc.name} not ready after {timeout:.0f} s:\n{proc.log_tail()}")
