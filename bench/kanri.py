"""kanri for the serving benchmark: `kanri serve` with its default flags, on the benchmark's model.

Only what a deployment must say is passed (predictor, model, app name, host, ports,
model store): no tuning flag, and no KANRI_* variable reaches it (bench.procs.server_env),
so what is measured is what ships. Ready means SERVING and the model loaded in every
worker, read from the metrics it serves, since by default it starts one worker per CPU.
"""

from __future__ import annotations

import contextlib
import re
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench.model import MODEL_NAME, OIP_PATH, Model
from bench.procs import HOST, ROOT, BenchError, log, pinned, server_env, spawn
from bench.targets import HTTP, Target, oip_json_output, wait_ready
from kanri.console.cluster.local.processes import free_port

PREDICT_METHOD = "/kanri.serving.v1.PredictionService/Predict"
ERROR_MARK = '"level": "error"'  # kanri logs JSON lines; a model that fails to load logs one


@dataclass(frozen=True)
class Variant:
    """One way of serving the model with kanri."""

    key: str
    label: str
    predictor: str  # file.py:Class under the repository root
    http: bool  # also measured over HTTP
    tracing: bool = False  # every span exported over OTLP (to a SpanSink)


# The README's predictor: predict only, so one scikit-learn call per request.
PREDICT_ONLY = Variant("kanri", "kanri", "bench/predictors/readme_digits.py:Digits", http=True)
# examples/digits: predict_batch too, so the default adaptive batching groups concurrent requests.
PREDICT_BATCH = Variant("kanri-batch", "kanri predict_batch", "examples/digits/predictor.py:Digits", http=False)
TRACING = Variant("kanri-tracing", "kanri tracing on", PREDICT_ONLY.predictor, http=False, tracing=True)


def start(
    stack: contextlib.ExitStack,
    variant: Variant,
    model: Model,
    workdir: Path,
    cpus: str | None,
    transports: tuple[str, ...],
    otlp_endpoint: str = "",
) -> list[Target]:
    """`python -m kanri.serving serve` for the variant: its gRPC target, and its HTTP one where measured."""
    from kanri.serving._pb import serving_pb2 as pb

    if not (ROOT / variant.predictor.split(":")[0]).is_file():
        raise BenchError(f"kanri: predictor {variant.predictor} not found under {ROOT}")
    port, http_port, metrics_port = free_port(), free_port(), free_port()
    http = variant.http and HTTP in transports
    cmd = [
        sys.executable, "-m", "kanri.serving", "serve", "--predictor", variant.predictor,
        "--model", str(model.skops_path),
        "--app", MODEL_NAME, "--host", HOST, "--port", str(port), "--metrics-port", str(metrics_port),
        "--model-store", str(workdir / "kanri-store"),
        *(["--http-port", str(http_port)] if http else []),
        *(["--otlp-endpoint", otlp_endpoint] if variant.tracing else []),
    ]  # fmt: skip
    proc = spawn(stack, variant.label, pinned(cmd, cpus), workdir / f"{variant.key}.log", env=server_env())

    def check_label(label: object) -> None:
        if label != str(model.label):
            raise BenchError(f"{variant.label}: expected label {str(model.label)!r}, got {label!r}")

    def check_grpc(answer: bytes) -> None:
        reply = pb.PredictResponse.FromString(answer)
        check_label(reply.output.str)
        if len(reply.scores) != len(model.estimator.classes_):
            raise BenchError(f"kanri: expected {len(model.estimator.classes_)} scores, got {len(reply.scores)}")

    targets = [
        Target(variant.key, f"{variant.label} gRPC", port, PREDICT_METHOD, model.kanri_request(), check_grpc, proc)
    ]
    if http:
        targets.append(
            Target(
                f"{variant.key}-http",
                f"{variant.label} HTTP",
                http_port,
                OIP_PATH,
                model.oip_json(),
                lambda answer: check_label(oip_json_output(answer, "label")),
                proc,
                HTTP,
            )
        )
    wait_ready(proc, lambda: ready(targets[0].address, metrics_port), fatal=ERROR_MARK)
    count = processes(metrics(metrics_port))
    for target in targets:
        target.processes = count
    return targets


def metrics(port: int) -> str:
    return urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=1).read().decode()


def processes(text: str) -> int:
    """The runtime's processes: 1, or a supervisor and its workers."""
    found = re.search(r"^kanri_processes (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


def ready(address: str, metrics_port: int) -> bool:
    """SERVING, and the model loaded by every worker (a supervisor loads none)."""
    text = metrics(metrics_port)
    count = processes(text)
    loads = sum(float(v) for v in re.findall(r'^kanri_model_loads_total\{[^}]*result="ok"[^}]*\} (\S+)$', text, re.M))
    return count > 0 and loads >= max(1, count - 1) and health_serving(address)


def health_serving(address: str) -> bool:
    """grpc.health.v1 Check of the whole server ("") answers SERVING."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


class SpanSink:
    """An OTLP/gRPC trace endpoint in this process that takes every export and keeps only counts,
    so the tracing round measures what tracing costs the runtime, not a collector's work."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.exports = self.bytes = 0
        server = grpc.server(ThreadPoolExecutor(max_workers=2))
        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(self._export)},
        )
        server.add_generic_rpc_handlers((handler,))
        self.endpoint = f"http://{HOST}:{server.add_insecure_port(f'{HOST}:0')}"
        server.start()
        stack.callback(server.stop, 0)
        stack.callback(lambda: log(f"span sink: {self.exports} OTLP exports, {self.bytes / 1e6:.1f} MB of spans"))

    def _export(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.exports += 1
        self.bytes += len(request)
        return b""  # an empty ExportTraceServiceResponse: everything accepted
