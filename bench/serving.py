"""Serving benchmark: kanri vs MLServer vs a bare grpc.aio echo server.

One scikit-learn digits model (trained here, dumped as .skops for kanri and
.joblib for MLServer) is served by:

* echo      bench/echo_server.py: grpc.aio returning the request bytes (the
            Python gRPC ceiling of one process on this machine);
* mlserver  MLServer 1.7.1 + mlserver-sklearn, Open Inference Protocol gRPC,
            in its own virtual environment (created on first run);
* kanri     ``python -m serving serve`` with adaptive batching off, then on;
            with --tracing also batching on with every span exported over
            OTLP to a sink in this process (the cost of tracing when on).

Every server is checked with a real gRPC call (the answer must decode and
match the model's own prediction), then driven by h2load (nghttp2-client) with
the same pre-encoded gRPC request, closed loop, several interleaved rounds.
Throughput comes from h2load; p50/p99 from its per-request log; gRPC errors
(HTTP 200 with a non-OK grpc-status, which h2load counts as success) are
found from the DATA bytes received, since an error answer carries none.

    python bench/serving.py            # ~3 minutes
    python bench/serving.py --quick    # smoke run, ~30 s
    python bench/serving.py --json results.json
    python bench/serving.py --tracing  # adds kanri with OpenTelemetry tracing on
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# This file is called serving.py: keep bench/ off sys.path so `serving` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import numpy as np  # noqa: E402

HOST = "127.0.0.1"
KANRI_METHOD = "/kanri.serving.v1.PredictionService/Predict"
TRACING_KEY = "kanri-tracing"
OIP_METHOD = "/inference.GRPCInferenceService/ModelInfer"
MLSERVER_VERSION = "1.7.1"
MLSERVER_VENV = BENCH_DIR / ".venv-mlserver"
PREDICTOR = "examples/digits/predictor.py:Digits"
STARTUP_TIMEOUT_S = 60.0
KANRI_ERROR_MARK = '"level": "error"'  # kanri logs JSON lines; a model that fails to load logs one
LOG_TAIL_LINES = 30
MODEL_DESCRIPTION = "LogisticRegression(max_iter=5000) fit on all of sklearn's load_digits, one object dumped twice"
# Environment shared by all servers: one BLAS thread each, unbuffered logs.
SERVER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


class BenchError(RuntimeError):
    """A failure that ends the run with a clear message (no traceback)."""


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """What one run does; written to the JSON output as is."""

    rounds: int
    duration_s: float
    warmup_s: float
    clients: int
    streams: int
    servers: tuple[str, ...]
    server_cpus: str | None
    loadgen_cpus: str | None
    oip_encoding: str
    sample: int
    tracing: bool = False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per configuration, interleaved (default 3)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per round (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each round (default 2)")
    parser.add_argument("--clients", type=int, default=8, help="h2load connections (default 8)")
    parser.add_argument("--streams", type=int, default=16, help="concurrent streams per connection (default 16)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 3 s, 1 s warm-up")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument(
        "--servers",
        default="echo,mlserver,kanri",
        help="comma-separated subset of echo,mlserver,kanri (default: all)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to one CPU and h2load to another (default: no pinning, the server may use every CPU)",
    )
    parser.add_argument(
        "--oip-encoding",
        choices=("raw", "contents"),
        default="raw",
        help="MLServer request tensor: raw_input_contents (default, MLServer's faster path) or int64_contents",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="also measure kanri (batching on) exporting every span over OTLP (needs kanri[tracing])",
    )
    parser.add_argument("--sample", type=int, default=0, help="index of the digits image sent (default 0)")
    parser.add_argument("--mlserver-venv", type=Path, default=MLSERVER_VENV, help=f"default {MLSERVER_VENV}")
    return parser.parse_args(argv)


def make_settings(args: argparse.Namespace) -> Settings:
    """Settings from the command line, with --quick and CPU pinning applied."""
    servers = tuple(s.strip() for s in args.servers.split(",") if s.strip())
    unknown = set(servers) - {"echo", "mlserver", "kanri"}
    if unknown or not servers:
        raise BenchError(f"--servers: unknown {', '.join(sorted(unknown)) or 'empty list'}")
    rounds, duration, warmup = (1, 3.0, 1.0) if args.quick else (args.rounds, args.duration, args.warmup)
    if rounds < 1 or duration <= 0 or warmup < 0 or args.clients < 1 or args.streams < 1:
        raise BenchError("--rounds, --duration, --clients and --streams must be positive")
    server_cpus, loadgen_cpus = split_cpus() if args.pin else (None, None)
    return Settings(
        rounds=rounds,
        duration_s=duration,
        warmup_s=warmup,
        clients=args.clients,
        streams=args.streams,
        servers=servers,
        server_cpus=server_cpus,
        loadgen_cpus=loadgen_cpus,
        oip_encoding=args.oip_encoding,
        sample=args.sample,
        tracing=args.tracing,
    )


def split_cpus() -> tuple[str | None, str | None]:
    """One CPU for the server under test, another for h2load; none if that is impossible."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        log("--pin needs two CPUs and taskset; running unpinned")
        return None, None
    return str(cpus[0]), str(cpus[1])


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    """The command prefixed with `taskset -c CPUS` when pinning."""
    return ["taskset", "-c", cpus, *cmd] if cpus else cmd


# ---------------------------------------------------------------- processes


@dataclass
class Proc:
    """A child process in its own session, its output going to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if still there after 5 s."""
        if self.popen.poll() is None:
            _signal_group(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)
        _signal_group(self.popen.pid, signal.SIGKILL)  # stragglers of the group too
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def spawn(
    stack: contextlib.ExitStack,
    name: str,
    cmd: list[str],
    log_path: Path,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> Proc:
    """Start cmd in a new session; the stack stops it (whole group) on exit."""
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc = Proc(name, popen, log_path)
    stack.callback(proc.stop)
    return proc


def server_env(drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment plus SERVER_ENV, without the names in drop."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(SERVER_ENV)
    return env


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes in a process group (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # fields[0] is field 3 (state); pgrp is field 5
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """User + system CPU seconds of the reaped children of this process (h2load runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def raise_on_signal(signum: int, frame: Any) -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every child is stopped."""
    raise KeyboardInterrupt(f"signal {signum}")


# ---------------------------------------------------------------- model


@dataclass
class Model:
    """The one estimator every server serves, its files, and the request input."""

    estimator: Any
    skops_path: Path
    joblib_path: Path
    pixels: list[int]
    label: int


def prepare_model(workdir: Path, sample: int) -> Model:
    """Fit one LogisticRegression on the digits data and dump it in both formats."""
    import joblib
    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    pixels, digits = load_digits(return_X_y=True)
    if not 0 <= sample < len(pixels):
        raise BenchError(f"--sample must be in 0..{len(pixels) - 1}")
    estimator = LogisticRegression(max_iter=5000).fit(pixels, digits)  # as MODEL_DESCRIPTION says
    skops_path, joblib_path = workdir / "digits.skops", workdir / "model.joblib"
    sio.dump(estimator, skops_path)
    joblib.dump(estimator, joblib_path)
    row = pixels[sample].astype(int).tolist()
    return Model(estimator, skops_path, joblib_path, row, int(estimator.predict([row])[0]))


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    """One configuration under test: what to call, and how to check an answer."""

    key: str
    label: str
    port: int
    method: str
    request: bytes
    check: Callable[[bytes], None]  # raises BenchError on a wrong answer
    proc: Proc
    response_len: int = 0  # protobuf bytes of one OK answer, for the error count

    @property
    def target(self) -> str:
        return f"{HOST}:{self.port}"


def unary_call(target: str, method: str, request: bytes, timeout: float = 5.0) -> bytes:
    """One raw unary call: bytes in, bytes out."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        return call(request, timeout=timeout)


def verify(server: Server) -> None:
    """Call the server once with a real client, check the answer, record its size."""
    try:
        answer = unary_call(server.target, server.method, server.request)
    except grpc.RpcError as err:
        raise BenchError(f"{server.label}: verification call failed: {err.code()} {err.details()}") from err
    server.check(answer)
    server.response_len = len(answer)


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
        with contextlib.suppress(grpc.RpcError):
            if probe():
                return
        time.sleep(0.25)
    raise BenchError(f"{proc.name} not ready after {timeout:.0f} s:\n{proc.log_tail()}")


def kanri_request(model: Model) -> bytes:
    from serving._pb import serving_pb2 as pb

    return pb.PredictRequest(input=pb.Value(ints=pb.IntList(values=model.pixels))).SerializeToString()


def start_echo(stack: contextlib.ExitStack, settings: Settings, model: Model, workdir: Path) -> Server:
    """The bare grpc.aio echo server, answering kanri's request bytes with themselves."""
    port = free_port()
    cmd = pinned([sys.executable, str(BENCH_DIR / "echo_server.py"), "--port", str(port)], settings.server_cpus)
    proc = spawn(stack, "echo server", cmd, workdir / "echo.log", env=server_env())
    request = kanri_request(model)

    def check(answer: bytes) -> None:
        if answer != request:
            raise BenchError("echo server: answer differs from the request")

    server = Server("echo", "echo (grpc.aio)", port, KANRI_METHOD, request, check, proc)
    wait_ready(proc, lambda: unary_call(server.target, KANRI_METHOD, request, timeout=1) == request)
    return server


def start_kanri(
    stack: contextlib.ExitStack,
    settings: Settings,
    model: Model,
    workdir: Path,
    batching: bool,
    otlp_endpoint: str = "",
) -> Server:
    """`python -m serving serve` on the digits predictor, batching on or off, tracing to otlp_endpoint if given."""
    from serving._pb import serving_pb2 as pb

    if not (ROOT / PREDICTOR.split(":")[0]).is_file():
        raise BenchError(f"kanri: predictor {PREDICTOR} not found under {ROOT}")
    port, metrics_port = free_port(), free_port()
    mode = "on" if batching else "off"
    key, label = f"kanri-batching-{mode}", f"kanri (batching {mode})"
    cmd = [
        sys.executable, "-m", "serving", "serve",
        "--predictor", PREDICTOR, "--model", str(model.skops_path),
        "--app", "digits", "--service", "digits-bench", "--service-level", "development",
        "--host", HOST, "--port", str(port), "--metrics-port", str(metrics_port), "--request-log-sample", "0",
        "--model-store", str(workdir / "kanri-store"), "--grace-seconds", "1",
    ]  # fmt: skip
    if not batching:
        cmd.append("--no-batching")
    if otlp_endpoint:
        cmd += ["--otlp-endpoint", otlp_endpoint]
        key, label = TRACING_KEY, "kanri (tracing on)"
    proc = spawn(stack, label, pinned(cmd, settings.server_cpus), workdir / f"{key}.log", env=server_env())

    def check(answer: bytes) -> None:
        reply = pb.PredictResponse.FromString(answer)
        if reply.output.WhichOneof("kind") != "str" or reply.output.str != str(model.label):
            raise BenchError(f"kanri: expected label {model.label!r}, got {reply.output}")
        if len(reply.scores) != len(model.estimator.classes_):
            raise BenchError(f"kanri: expected {len(model.estimator.classes_)} scores, got {len(reply.scores)}")

    server = Server(key, label, port, KANRI_METHOD, kanri_request(model), check, proc)
    wait_ready(proc, lambda: health_serving(server.target), fatal=KANRI_ERROR_MARK)
    return server


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


def health_serving(target: str) -> bool:
    """grpc.health.v1 Check of the whole server ("") answers SERVING."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


# ---------------------------------------------------------------- MLServer


def ensure_mlserver(venv: Path) -> Path:
    """The `mlserver` executable of a venv holding MLServer and our scikit-learn/numpy.

    Created on first run (a minute or two); reused while its marker matches.
    """
    import sklearn

    pins = [f"mlserver=={MLSERVER_VERSION}", f"mlserver-sklearn=={MLSERVER_VERSION}"]
    pins += [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}"]
    marker = venv / ".bench-requirements"
    exe = venv / "bin" / "mlserver"
    if exe.is_file() and marker.is_file() and marker.read_text() == " ".join(pins):
        return exe
    if venv.exists():
        shutil.rmtree(venv)
    log(f"creating {venv} for MLServer (first run only): {' '.join(pins)}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip_install(venv, pins)
    marker.write_text(" ".join(pins))
    return exe


def pip_install(venv: Path, pins: list[str]) -> None:
    """pip install pins into venv, echoing pip's main progress lines."""
    pip_log = venv / "pip.log"
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--progress-bar", "off", *pins]
    with (
        pip_log.open("w") as out,
        subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        ) as pip,
    ):
        try:
            for line in pip.stdout or ():
                out.write(line)
                if shown := pip_progress(line):
                    log(f"  pip: {shown}")
        finally:
            if pip.poll() is None:
                _signal_group(pip.pid, signal.SIGKILL)
    if pip.returncode != 0:
        tail = "\n".join(pip_log.read_text().splitlines()[-LOG_TAIL_LINES:])
        shutil.rmtree(venv, ignore_errors=True)
        raise BenchError(f"installing MLServer failed (pip exit {pip.returncode}):\n{tail}")


def pip_progress(line: str) -> str:
    """The part of a pip output line worth showing: top-level downloads, install, errors."""
    if line.startswith("Collecting") and "(from " not in line:
        return line.strip()
    if line.startswith(("Installing", "Successfully", "ERROR")):
        return textwrap.shorten(line.strip(), 110)
    return ""


def write_mlserver_repo(workdir: Path, model: Model, ports: tuple[int, int, int]) -> Path:
    """settings.json plus a `digits` model folder holding model.joblib."""
    repo = workdir / "mlserver"
    folder = repo / "digits"
    folder.mkdir(parents=True)
    grpc_port, http_port, metrics_port = ports
    server_settings = {
        "host": HOST, "grpc_port": grpc_port, "http_port": http_port, "metrics_port": metrics_port,
        "parallel_workers": 0,
    }  # fmt: skip
    model_settings = {
        "name": "digits",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
    }
    (repo / "settings.json").write_text(json.dumps(server_settings))
    (folder / "model-settings.json").write_text(json.dumps(model_settings))
    shutil.copyfile(model.joblib_path, folder / "model.joblib")
    return repo


def oip_request(model: Model, encoding: str) -> bytes:
    """ModelInfer for `digits`: one INT64 [1, 64] tensor named input-0."""
    from serving._pb import open_inference_pb2 as oip

    tensor = oip.ModelInferRequest.InferInputTensor(name="input-0", datatype="INT64", shape=[1, len(model.pixels)])
    request = oip.ModelInferRequest(model_name="digits", inputs=[tensor])
    if encoding == "raw":
        request.raw_input_contents.append(np.asarray(model.pixels, dtype="<i8").tobytes())
    else:
        request.inputs[0].contents.int64_contents.extend(model.pixels)
    return request.SerializeToString()


def oip_label(answer: bytes) -> int:
    """The `predict` output of a ModelInferResponse, from contents or raw bytes."""
    from serving._pb import open_inference_pb2 as oip

    reply = oip.ModelInferResponse.FromString(answer)
    for i, out in enumerate(reply.outputs):
        if out.name != "predict":
            continue
        if out.contents.int64_contents:
            return int(out.contents.int64_contents[0])
        if i < len(reply.raw_output_contents) and out.datatype == "INT64":
            return int(np.frombuffer(reply.raw_output_contents[i], dtype="<i8")[0])
        raise BenchError(f"mlserver: cannot decode output {out}")
    raise BenchError(f"mlserver: no `predict` output in {reply}")


def start_mlserver(stack: contextlib.ExitStack, settings: Settings, model: Model, workdir: Path, venv: Path) -> Server:
    """MLServer with mlserver-sklearn serving model.joblib, one process."""
    exe = ensure_mlserver(venv)
    grpc_port = free_port()
    repo = write_mlserver_repo(workdir, model, (grpc_port, free_port(), free_port()))
    cmd = pinned([str(exe), "start", str(repo)], settings.server_cpus)
    proc = spawn(
        stack,
        f"mlserver {MLSERVER_VERSION}",
        cmd,
        workdir / "mlserver.log",
        cwd=repo,
        env=server_env(drop=("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")),
    )
    request = oip_request(model, settings.oip_encoding)

    def check(answer: bytes) -> None:
        if (label := oip_label(answer)) != model.label:
            raise BenchError(f"mlserver: expected label {model.label}, got {label}")

    server = Server("mlserver", f"mlserver {MLSERVER_VERSION}", grpc_port, OIP_METHOD, request, check, proc)
    wait_ready(proc, lambda: bool(unary_call(server.target, OIP_METHOD, request, timeout=1)))
    return server


# ---------------------------------------------------------------- load


@dataclass
class Measurement:
    """One h2load run against one server."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # HTTP-level failures plus non-OK gRPC answers
    server_cpu: float  # cores the server used during the measured run
    loadgen_cpu: float  # cores h2load used
    note: str = ""


def h2load_cmd(server: Server, settings: Settings, body: Path, seconds: float, log_file: Path | None) -> list[str]:
    cmd = [
        "h2load", "-D", f"{seconds:g}", "-c", str(settings.clients), "-m", str(settings.streams), "-t", "1",
        "-H", "content-type: application/grpc", "-H", "te: trailers", "-d", str(body),
    ]  # fmt: skip
    if log_file is not None:
        cmd += ["--log-file", str(log_file)]
    return pinned([*cmd, f"http://{server.target}{server.method}"], settings.loadgen_cpus)


def run_h2load(cmd: list[str], seconds: float) -> str:
    """Run h2load to completion (bounded) and return its stdout."""
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as h2:
        try:
            out, _ = h2.communicate(timeout=seconds + 30)
        finally:
            if h2.poll() is None:
                _signal_group(h2.pid, signal.SIGKILL)
                h2.wait()
    if h2.returncode != 0:
        raise BenchError(f"h2load exited with {h2.returncode}:\n{out[-2000:]}")
    return out


def parse_h2load(out: str) -> dict[str, float]:
    """req/s, done/succeeded/failed/errored/timeout counts and DATA bytes from h2load's summary."""
    patterns = {
        "rps": r"finished in [\d.]+\w*, ([\d.]+) req/s",
        "done": r"(\d+) done",
        "succeeded": r"(\d+) succeeded",
        "failed": r"(\d+) failed",
        "errored": r"(\d+) errored",
        "timeout": r"(\d+) timeout",
        "data": r"\((\d+)\) data",
    }
    stats = {}
    for key, pattern in patterns.items():
        match = re.search(pattern, out)
        if match is None:
            raise BenchError(f"cannot parse h2load output ({key}):\n{out[-2000:]}")
        stats[key] = float(match.group(1))
    return stats


def read_latencies(log_file: Path) -> tuple[np.ndarray, int]:
    """Latencies (ms) of HTTP 200 answers in an h2load --log-file, and the count of other rows."""
    rows = np.loadtxt(log_file, dtype=np.int64, ndmin=2, usecols=(1, 2)) if log_file.stat().st_size else None
    if rows is None or rows.size == 0:
        return np.empty(0), 0
    ok = rows[:, 0] == 200
    return rows[ok, 1] / 1000.0, int((~ok).sum())


def grpc_errors(stats: dict[str, float], response_len: int) -> tuple[int, str]:
    """Non-OK gRPC answers among h2load's successes, from the DATA bytes received.

    Every OK answer is one gRPC frame of 5 + response_len bytes; an error answer
    is trailers only, with no DATA.
    """
    frame = 5 + response_len
    ok_frames, rest = divmod(int(stats["data"]), frame)
    note = "" if rest == 0 else f"DATA bytes not a multiple of {frame}: answer sizes vary, error count approximate"
    return max(0, int(stats["succeeded"]) - ok_frames), note


def measure(server: Server, settings: Settings, workdir: Path) -> Measurement:
    """Warm up, run h2load for the measured duration, then re-check one answer."""
    body = workdir / f"{server.key}.body"
    body.write_bytes(b"\x00" + struct.pack(">I", len(server.request)) + server.request)
    if settings.warmup_s > 0:
        run_h2load(h2load_cmd(server, settings, body, settings.warmup_s, None), settings.warmup_s)
    log_file = workdir / f"{server.key}.h2log"
    log_file.unlink(missing_ok=True)  # h2load appends
    cmd = h2load_cmd(server, settings, body, settings.duration_s, log_file)
    cpu0, gen0, t0 = group_cpu_seconds(server.proc.popen.pid), children_cpu_seconds(), time.monotonic()
    stats = parse_h2load(run_h2load(cmd, settings.duration_s))
    wall = time.monotonic() - t0
    server_cpu = (group_cpu_seconds(server.proc.popen.pid) - cpu0) / wall
    loadgen_cpu = (children_cpu_seconds() - gen0) / wall
    latencies, non_200 = read_latencies(log_file)
    bad_grpc, note = grpc_errors(stats, server.response_len)
    errors = bad_grpc + non_200 + int(stats["failed"] + stats["errored"] + stats["timeout"])
    if server.proc.popen.poll() is not None:
        raise BenchError(f"{server.label} died under load:\n{server.proc.log_tail()}")
    verify(server)
    if latencies.size == 0:
        raise BenchError(f"{server.label}: no successful request in {settings.duration_s:g} s")
    p50, p99 = np.percentile(latencies, [50, 99])
    return Measurement(stats["rps"], float(p50), float(p99), int(stats["done"]), errors, server_cpu, loadgen_cpu, note)


# ---------------------------------------------------------------- results


@dataclass
class Result:
    """All rounds of one configuration."""

    label: str
    rounds: list[Measurement] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(m, name) for m in self.rounds)

    def spread(self) -> float:
        """(max - min) / median of req/s over the rounds."""
        rps = [m.rps for m in self.rounds]
        return (max(rps) - min(rps)) / statistics.median(rps) if rps else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "rps": self.median("rps"),
            "p50_ms": self.median("p50_ms"),
            "p99_ms": self.median("p99_ms"),
            "rps_spread": self.spread(),
            "errors": sum(m.errors for m in self.rounds),
            "server_cpu": self.median("server_cpu"),
            "loadgen_cpu": self.median("loadgen_cpu"),
        }


def ratios(results: dict[str, Result]) -> dict[str, dict[str, float]]:
    """kanri over each baseline present: throughput ratio and p99 ratio, from the medians;
    kanri with tracing also over kanri without it (batching on in both)."""
    out = {}
    for key, result in results.items():
        if not key.startswith("kanri"):
            continue
        bases = ("mlserver", "echo", "kanri-batching-on") if key == TRACING_KEY else ("mlserver", "echo")
        for base in bases:
            if base in results:
                b = results[base]
                out[f"{key}/{base}"] = {
                    "label": f"{result.label} / {b.label}",
                    "throughput": result.median("rps") / b.median("rps"),
                    "p99": result.median("p99_ms") / b.median("p99_ms"),
                }
    return out


def format_report(results: dict[str, Result], settings: Settings, env: dict[str, str]) -> str:
    """The table of medians, the ratios, and the settings they were taken with."""
    head = f"{'server':<24}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'spread':>8}{'errors':>8}{'srv cpu':>9}{'h2 cpu':>8}"
    lines = [head, "-" * len(head)]
    for result in results.values():
        s = result.summary()
        lines.append(
            f"{result.label:<24}{s['rps']:>8.0f}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}{s['rps_spread']:>8.0%}"
            f"{s['errors']:>8d}{s['server_cpu']:>9.2f}{s['loadgen_cpu']:>8.2f}"
        )
    if rat := ratios(results):
        lines += ["", f"{'ratio of medians':<40}{'throughput':>11}{'p99':>8}"]
        lines += [f"{r['label']:<40}{r['throughput']:>11.2f}{r['p99']:>8.2f}" for r in rat.values()]
        lines.append("(throughput > 1: kanri serves more; p99 < 1: kanri's tail latency is lower)")
    lines += ["", settings_text(settings, env)]
    return "\n".join(lines)


def settings_text(settings: Settings, env: dict[str, str]) -> str:
    pin = (
        f"servers pinned to CPU {settings.server_cpus}, h2load to CPU {settings.loadgen_cpus}"
        if settings.server_cpus
        else "no CPU pinning: server and h2load share the CPUs (--pin to separate them)"
    )
    return "\n".join(
        [
            f"load: h2load, closed loop, {settings.clients} connections x {settings.streams} streams "
            f"= {settings.clients * settings.streams} requests in flight, one fixed request (digits image "
            f"{settings.sample}); {settings.duration_s:g} s measured after {settings.warmup_s:g} s warm-up, "
            f"{settings.rounds} round(s) per server in rotating order; figures are medians over rounds; "
            "spread = (max - min) / median req/s; srv/h2 cpu = cores used by the server / by h2load",
            f"cpu: {env['cpus']} CPU(s); {pin}; servers run with OMP/OPENBLAS/MKL_NUM_THREADS=1; "
            "every server is one process",
            f"mlserver request: {settings.oip_encoding} INT64 tensor, output `predict`; kanri request: IntList, "
            "answer label + 10 probabilities; echo returns kanri's request bytes",
            "errors: h2load failures, non-200 answers and non-OK grpc-status (from DATA bytes)",
            *(
                ["kanri (tracing on): batching on, 4 spans per call exported over OTLP/gRPC to a sink in the benchmark"]
                if settings.tracing
                else []
            ),
            f"model: {env['model']}; 1-min load average before the run: {env['loadavg_at_start']} "
            "(other work on the machine makes figures noisier)",
            f"versions: python {env['python']}, grpcio {env['grpcio']}, scikit-learn {env['sklearn']}, {env['h2load']}",
        ]
    )


def environment() -> dict[str, str]:
    import sklearn

    h2 = subprocess.run(["h2load", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "sklearn": sklearn.__version__,
        "h2load": h2,
        "cpus": str(os.cpu_count()),
        "platform": platform.platform(),
        "mlserver": MLSERVER_VERSION,
        "model": MODEL_DESCRIPTION,
        "loadavg_at_start": f"{os.getloadavg()[0]:.2f}",
    }


def write_json(path: Path, results: dict[str, Result], settings: Settings, env: dict[str, str]) -> None:
    doc = {
        "settings": asdict(settings),
        "environment": env,
        "servers": {
            key: {"label": r.label, "median": r.summary(), "rounds": [asdict(m) for m in r.rounds]}
            for key, r in results.items()
        },
        "ratios": ratios(results),
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


# ---------------------------------------------------------------- main


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def start_servers(
    stack: contextlib.ExitStack, settings: Settings, model: Model, workdir: Path, venv: Path
) -> list[Server]:
    """Start and verify every configuration under test."""
    starters: list[tuple[str, Callable[[], Server]]] = []
    if "echo" in settings.servers:
        starters.append(("echo", lambda: start_echo(stack, settings, model, workdir)))
    if "mlserver" in settings.servers:
        starters.append(("mlserver", lambda: start_mlserver(stack, settings, model, workdir, venv)))
    if "kanri" in settings.servers:
        starters.append(("kanri", lambda: start_kanri(stack, settings, model, workdir, batching=False)))
        starters.append(("kanri", lambda: start_kanri(stack, settings, model, workdir, batching=True)))
    if "kanri" in settings.servers and settings.tracing:
        sink = SpanSink(stack)
        starters.append(
            ("kanri", lambda: start_kanri(stack, settings, model, workdir, batching=True, otlp_endpoint=sink.endpoint))
        )
    servers = []
    for _, start in starters:
        server = start()
        verify(server)
        log(f"ready: {server.label} on {server.target} (answer verified, {server.response_len} bytes)")
        servers.append(server)
    return servers


def run_rounds(servers: list[Server], settings: Settings, workdir: Path) -> dict[str, Result]:
    """Every server once per round; each round starts one server later (interleaved)."""
    results = {s.key: Result(s.label) for s in servers}
    for r in range(settings.rounds):
        shift = r % len(servers)
        for server in servers[shift:] + servers[:shift]:
            m = measure(server, settings, workdir)
            results[server.key].rounds.append(m)
            log(
                f"round {r + 1}/{settings.rounds}  {server.label:<22} {m.rps:8.0f} req/s  p50 {m.p50_ms:6.2f} ms  "
                f"p99 {m.p99_ms:6.2f} ms  errors {m.errors}{'  ' + m.note if m.note else ''}"
            )
    return results


def run(args: argparse.Namespace) -> int:
    settings = make_settings(args)
    if shutil.which("h2load") is None:
        raise BenchError("h2load not found: apt-get install -y nghttp2-client")
    env = environment()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kanri-bench-")))
        log("training the digits model (LogisticRegression) ...")
        model = prepare_model(workdir, settings.sample)
        servers = start_servers(stack, settings, model, workdir, args.mlserver_venv)
        results = run_rounds(servers, settings, workdir)
    print(format_report(results, settings, env))
    if args.json:
        write_json(args.json, results, settings, env)
        log(f"wrote {args.json}")
    return 1 if any(m.errors for r in results.values() for m in r.rounds) else 0


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, raise_on_signal)
    signal.signal(signal.SIGHUP, raise_on_signal)
    try:
        return run(parse_args(argv))
    except BenchError as err:
        log(f"error: {err}")
        return 2
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
