"""Runtime settings: one typed object, filled from the command line or KANRI_* variables."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .cpus import usable_cpus


def data_dir() -> Path:
    """kanri's data folder: $KANRI_HOME, else $XDG_DATA_HOME/kanri, else ~/.local/share/kanri."""
    if home := os.environ.get("KANRI_HOME"):
        return Path(home)
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "kanri"


def default_model_store() -> str:
    return str(data_dir() / "models")


SERVICE_LEVELS = ("development", "beta", "staging", "sandbox", "production")


@dataclass(frozen=True)
class ServerSettings:
    predictor: str
    model: str = ""
    model_sha256: str = ""
    model_version: str = ""
    app: str = "default"
    service: str = ""
    service_level: str = "development"
    host: str = "127.0.0.1"
    port: int = 50051
    # The Open Inference Protocol's REST API and kanri's Predict in JSON (serving.rest); 0: off.
    http_port: int = 0
    metrics_port: int = 0
    # Processes sharing the port; 0, the default: one per CPU this process may use (serving.cpus), resolved here.
    workers: int = 0
    batching: bool = True
    batch_max_size: int = 32
    batch_max_wait_ms: float = 2.0
    # Request lines: every failed or slow call; successful ones sampled, then capped per second (serving.logs).
    request_log_sample: float = 1.0
    request_log_per_second: int = 100
    request_log_slow_ms: float = 500.0
    log_level: str = "info"
    tls_cert: str = ""
    tls_key: str = ""
    max_message_mb: int = 64
    grace_seconds: float = 20.0
    drain_delay_seconds: float = 0.0
    model_store: str = ""
    # OTLP/gRPC collector for traces (e.g. http://127.0.0.1:4317); empty: no tracing at all.
    otlp_endpoint: str = ""
    # Read from KANRI_ADMIN_TOKEN only, so it never shows in a process list.
    admin_token: str = ""
    # Who may predict (serving.auth): the bearer token, from KANRI_PREDICT_TOKEN only; and/or a JWT verified by
    # the public keys of this JWKS or PEM file, with this issuer and audience. None set: predictions are open.
    predict_token: str = ""
    jwt_keys: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""

    def __post_init__(self) -> None:
        if self.workers == 0:
            object.__setattr__(self, "workers", usable_cpus())  # frozen: set once, before anyone reads it
        problems = []
        if self.service_level not in SERVICE_LEVELS:
            problems.append(f"service level must be one of {', '.join(SERVICE_LEVELS)}, got {self.service_level!r}")
        if self.http_port and self.http_port in (self.port, self.metrics_port):
            problems.append(f"the HTTP port {self.http_port} must differ from the gRPC and metrics ports")
        if self.workers < 1:
            problems.append("workers must be at least 1, or 0 for one per usable CPU")
        if bool(self.tls_cert) != bool(self.tls_key):
            problems.append("TLS needs both a certificate and a key file")
        if self.jwt_keys and not (self.jwt_issuer and self.jwt_audience):
            problems.append("JWT verification (--jwt-keys) needs --jwt-issuer and --jwt-audience too")
        if not 0.0 <= self.request_log_sample <= 1.0:
            problems.append("request log sample must be between 0 and 1")
        if self.request_log_per_second < 0 or self.request_log_slow_ms < 0:
            problems.append("request log lines per second and slow call milliseconds must be ≥ 0")
        if self.batch_max_size < 1 or self.batch_max_wait_ms < 0:
            problems.append("batch max size must be ≥ 1 and batch max wait ≥ 0")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def service_name(self) -> str:
        return self.service or f"{self.app}-{self.service_level}"

    @property
    def store_url(self) -> str:
        return self.model_store or default_model_store()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
