"""`kanri serve` and `kanri startapp`: the runtime's commands (also `python -m kanri.serving`)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from .auth import PREDICT_TOKEN_VARIABLE, caller_auth
from .config import SERVICE_LEVELS, ServerSettings


def _env(name: str) -> str:
    return f"KANRI_{name}"


# OpenTelemetry's standard variables, read after KANRI_OTLP_ENDPOINT.
OTEL_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


@click.command()
@click.option("--predictor", required=True, envvar=_env("PREDICTOR"),
              help="Predictor class: path/to/file.py:Class or package.module:Class.")
@click.option("--model", default="", envvar=_env("MODEL"),
              help="Model artifact (local path or fsspec URL). Without it, serve nothing until SwitchModel.")
@click.option("--sha256", "model_sha256", default="", envvar=_env("MODEL_SHA256"),
              help="Expected sha256 of the artifact; a mismatch is refused.")
@click.option("--model-version", default="", envvar=_env("MODEL_VERSION"),
              help="Version label answers carry (default: first 12 hex digits of the sha256).")
@click.option("--app", default="default", show_default=True, envvar=_env("APP"))
@click.option("--service", default="", envvar=_env("SERVICE"), help="Service name (default: APP-LEVEL).")
@click.option("--service-level", default="development", show_default=True, envvar=_env("SERVICE_LEVEL"),
              type=click.Choice(SERVICE_LEVELS))
@click.option("--host", default="127.0.0.1", show_default=True, envvar=_env("HOST"),
              help="Address to listen on (0.0.0.0 in a container).")
@click.option("--port", default=50051, show_default=True, envvar=_env("PORT"), type=int)
@click.option("--http-port", default=0, envvar=_env("HTTP_PORT"), type=int,
              help="Also serve HTTP/JSON here: the Open Inference Protocol's REST API (/v2/...) and kanri's "
                   "Predict (/kanri/v1/predict); 0: off. See docs/http.md.")
@click.option("--metrics-port", default=0, envvar=_env("METRICS_PORT"), type=int,
              help="Prometheus /metrics port (0: off).")
@click.option("--workers", default=0, envvar=_env("WORKERS"), type=int,
              help="Processes sharing the port (SO_REUSEPORT), to use every core; each loads the model. "
                   "Default 0: one per CPU the process may use (its affinity, bounded by a container's CPU limit).")
@click.option("--batching/--no-batching", default=True, show_default=True, envvar=_env("BATCHING"),
              help="Group concurrent requests into predict_batch calls (when the predictor has one).")
@click.option("--batch-max-size", default=32, show_default=True, envvar=_env("BATCH_MAX_SIZE"), type=int)
@click.option("--batch-max-wait-ms", default=2.0, show_default=True, envvar=_env("BATCH_MAX_WAIT_MS"), type=float,
              help="Longest a batch waits for more requests while they keep arriving.")
@click.option("--request-log-sample", default=1.0, show_default=True, envvar=_env("REQUEST_LOG_SAMPLE"), type=float,
              help="Share of successful calls logged (0: none). Failed and slow calls are always logged.")
@click.option("--request-log-per-second", default=100, show_default=True, envvar=_env("REQUEST_LOG_PER_SECOND"),
              type=int, help="At most this many lines a second for successful calls, per process (0: no cap).")
@click.option("--request-log-slow-ms", default=500.0, show_default=True, envvar=_env("REQUEST_LOG_SLOW_MS"),
              type=float, help="A call taking this long or longer is always logged, as a warning (0: no such rule).")
@click.option("--log-level", default="info", show_default=True, envvar=_env("LOG_LEVEL"),
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--tls-cert", default="", envvar=_env("TLS_CERT"), help="PEM certificate file (with --tls-key).")
@click.option("--tls-key", default="", envvar=_env("TLS_KEY"), help="PEM private key file.")
@click.option("--max-message-mb", default=64, show_default=True, envvar=_env("MAX_MESSAGE_MB"), type=int)
@click.option("--grace-seconds", default=20.0, show_default=True, envvar=_env("GRACE_SECONDS"), type=float,
              help="How long in-flight calls may finish after SIGTERM.")
@click.option("--drain-delay-seconds", default=0.0, show_default=True, envvar=_env("DRAIN_DELAY_SECONDS"), type=float,
              help="After SIGTERM, keep answering this long while health says NOT_SERVING, so load "
                   "balancers stop sending first.")
@click.option("--model-store", default="", envvar=_env("MODEL_STORE"),
              help="fsspec URL of the content-addressed model store (default: the kanri data folder).")
@click.option("--otlp-endpoint", default="", envvar=[_env("OTLP_ENDPOINT"), *OTEL_ENDPOINT_VARIABLES],
              help="Export traces to this OTLP/gRPC collector (e.g. http://127.0.0.1:4317); also read from "
                   f"{' / '.join(OTEL_ENDPOINT_VARIABLES)}. Needs kanri[tracing].")
@click.option("--jwt-keys", default="", envvar=_env("JWT_KEYS"),
              help="Predictions need a JWT signed by a key of this JWKS or PEM file (with --jwt-issuer and "
                   "--jwt-audience). Needs kanri[jwt].")
@click.option("--jwt-issuer", default="", envvar=_env("JWT_ISSUER"), help="The issuer (iss) a JWT must name.")
@click.option("--jwt-audience", default="", envvar=_env("JWT_AUDIENCE"), help="The audience (aud) a JWT must name.")
def serve(**options: object) -> None:
    """Serve a predictor over gRPC (kanri API, Open Inference Protocol, health, reflection), and with
    --http-port over HTTP/JSON (Open Inference Protocol REST, kanri Predict).

    Admin RPCs (SwitchModel, UploadModel, EvaluateModel) need
    'authorization: Bearer $KANRI_ADMIN_TOKEN' when that variable is set. Predictions need
    'authorization: Bearer $KANRI_PREDICT_TOKEN' when that one is set, or a JWT with --jwt-keys; health,
    readiness and metadata stay open.
    """
    try:
        settings = ServerSettings(**options, admin_token=os.environ.get("KANRI_ADMIN_TOKEN", ""),  # type: ignore[arg-type]
                                  predict_token=os.environ.get(PREDICT_TOKEN_VARIABLE, ""))
        caller_auth(settings)  # a missing key file or PyJWT: one line now, not a worker failing at start
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    from . import logs
    from .predictor import load_predictor_class

    if settings.otlp_endpoint:
        _require_tracing()
    logs.configure(settings.app, settings.service_name, settings.service_level, settings.log_level)
    try:
        predictor_cls = load_predictor_class(settings.predictor)
    except (ValueError, ImportError, SyntaxError) as exc:
        raise click.ClickException(f"cannot load predictor {settings.predictor}: {exc}") from None
    try:
        if settings.workers > 1:
            from .workers import supervise

            sys.exit(supervise(settings))
        from .server import serve as run_server

        asyncio.run(run_server(settings, predictor_cls))
    except OSError as exc:
        raise click.ClickException(str(exc)) from None


def _require_tracing() -> None:
    try:
        from . import tracing  # noqa: F401  (it imports every OpenTelemetry module tracing needs)
    except ImportError as exc:
        sources = " / ".join(("--otlp-endpoint", _env("OTLP_ENDPOINT"), *OTEL_ENDPOINT_VARIABLES))
        raise click.ClickException(f"tracing to an OTLP endpoint needs OpenTelemetry ({exc}): "
                                   f"pip install 'kanri[tracing]', or unset {sources}") from None


@click.command()
@click.argument("name")
@click.option("--directory", default=".", type=click.Path(file_okay=False, path_type=Path),
              help="Where to create the app folder.")
def startapp(name: str, directory: Path) -> None:
    """Create an app skeleton (predictor, training script, test) that serves as generated."""
    from .scaffold import startapp as scaffold

    try:
        path = scaffold(name, directory)
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {path}: see {path / 'README.md'} to train, test and serve it")


@click.group()
def main() -> None:
    """kanri's serving runtime."""


main.add_command(serve)
main.add_command(startapp)
