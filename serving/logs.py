"""One JSON object per line on stdout, for fluent-bit and the console's log tail.

Every line carries the service's identity; request lines add the request's
id, method, latency and status code. Every failed or slow call is logged; successful
ones are sampled and capped at a number of lines a second (RequestLog).
With tracing on, a line written during a call carries its trace_id and span_id,
so a log line leads to its trace.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

_IDENTITY: dict[str, str | int] = {}
# Set by serving.tracing when tracing is on: the current span's ids, or {} outside a span.
_trace_fields: Callable[[], dict[str, str]] | None = None
# LogRecord attributes that are not user fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
# Made once: json.dumps with arguments makes one a line.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "@timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            **_IDENTITY,
            "message": record.getMessage(),
        }
        if _trace_fields is not None:
            line.update(_trace_fields())
        for key, value in vars(record).items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


def configure(app: str, service: str, service_level: str, level: str = "info",
              stream: TextIO | None = None) -> None:
    """Route every logger (ours and libraries') to JSON lines on stdout."""
    # KANRI_POD names the replica where a host runs several (the local cluster); Kubernetes pods are hosts.
    pod = os.environ.get("KANRI_POD") or socket.gethostname()
    _IDENTITY.update(app=app, service=service, service_level=service_level, pod=pod, pid=os.getpid())
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def set_model_version(version: str) -> None:
    _IDENTITY["model_version"] = version


def set_trace_fields(source: Callable[[], dict[str, str]] | None) -> None:
    global _trace_fields
    _trace_fields = source


class RequestLog:
    """Which calls get a request line, and writing it.

    Every failed call and every slow one (latency at least slow_s; 0: no such rule) gets a
    line, always. Successful calls are sampled (a share `sample` of them, at random; 0: none),
    then capped at `per_second` lines a second (0: no cap), so a quiet server logs every call
    and a busy one a bounded number: a line costs about 50 µs of the event loop, and a line
    for every call cost 13–18 % of the throughput under load (bench/README.md). The server passes the
    settings' values (ServerSettings: 1.0, 100 a second, 500 ms).
    """

    def __init__(self, sample: float, per_second: int, slow_s: float) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError(f"request log sample must be between 0 and 1, got {sample}")
        if per_second < 0 or slow_s < 0:
            raise ValueError("request lines per second and the slow call threshold must be ≥ 0")
        self.sample = sample
        self.per_second = per_second
        self.slow_s = slow_s
        self._second = -1  # the whole monotonic second the lines left are counted in
        self._left = 0
        self._log = logging.getLogger("kanri.request")

    def write(self, method: str, code: str, latency_s: float, request_id: str, model_version: str,
              error: str = "") -> None:
        slow = 0.0 < self.slow_s <= latency_s
        if code == "OK" and not slow and not self._admit():
            return
        fields = {"request_id": request_id, "method": method, "latency_ms": round(latency_s * 1000, 3),
                  "code": code, "model_version": model_version}
        if error:
            self._log.warning(error, extra=fields)
        elif slow:
            self._log.warning("%s %s, slow: %.0f ms", method, code, latency_s * 1000, extra=fields)
        else:
            self._log.info("%s %s", method, code, extra=fields)

    def _admit(self) -> bool:
        """Whether a successful call that is not slow gets a line: sampled, then within this second's cap."""
        if self.sample < 1.0 and random.random() >= self.sample:
            return False
        if not self.per_second:
            return True
        second = int(time.monotonic())
        if second != self._second:
            self._second, self._left = second, self.per_second
        if not self._left:
            return False
        self._left -= 1
        return True
