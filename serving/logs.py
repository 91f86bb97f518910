"""One JSON object per line on stdout, for fluent-bit and the console's log tail.

Every line carries the service's identity; request lines add the request's
id, method, latency and status code. Request lines can be sampled or turned off.
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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

_IDENTITY: dict[str, str | int] = {}
# Set by serving.tracing when tracing is on: the current span's ids, or {} outside a span.
_trace_fields: Callable[[], dict[str, str]] | None = None
# LogRecord attributes that are not user fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


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
        return json.dumps(line, default=str, ensure_ascii=False)


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
    """Writes one line per sampled request (sample 1.0: all, 0: none)."""

    def __init__(self, sample: float) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError(f"request log sample must be between 0 and 1, got {sample}")
        self.sample = sample
        self._log = logging.getLogger("kanri.request")

    def write(self, method: str, code: str, latency_s: float, request_id: str, model_version: str,
              error: str = "") -> None:
        if self.sample == 0.0 or (self.sample < 1.0 and random.random() >= self.sample):
            return
        fields = {"request_id": request_id, "method": method, "latency_ms": round(latency_s * 1000, 3),
                  "code": code, "model_version": model_version}
        if error:
            self._log.warning(error, extra=fields)
        else:
            self._log.info("%s %s", method, code, extra=fields)
