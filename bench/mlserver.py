"""MLServer for the serving benchmark: its own virtual environment (it needs protobuf 6, kanri
protobuf 7), a model repository holding the benchmark's model, and one process serving it over
Open Inference Protocol gRPC and REST."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from bench.model import MODEL_NAME, OIP_PATH, Model
from bench.procs import HOST, LOG_TAIL_LINES, BenchError, log, pinned, server_env, signal_group, spawn
from bench.targets import GRPC, HTTP, Target, call, oip_json_output, wait_ready
from kanri.console.cluster.local.processes import free_port

VERSION = "1.7.1"
OIP_METHOD = "/inference.GRPCInferenceService/ModelInfer"
OUTPUT = "predict"  # mlserver-sklearn's output: the label only
# All in the server process: MLServer's default (1) sends every call to a worker process, slower for a small model.
PARALLEL_WORKERS = 0


def ensure_venv(venv: Path) -> Path:
    """The `mlserver` executable of a venv holding MLServer and our scikit-learn/numpy.

    Created on first run (a minute or two); reused while its marker matches.
    """
    import sklearn

    pins = [f"mlserver=={VERSION}", f"mlserver-sklearn=={VERSION}"]
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
                signal_group(pip.pid, signal.SIGKILL)
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


def write_repo(workdir: Path, model: Model, ports: tuple[int, int, int]) -> Path:
    """settings.json plus a model folder holding model.joblib."""
    repo = workdir / "mlserver"
    folder = repo / MODEL_NAME
    folder.mkdir(parents=True)
    grpc_port, http_port, metrics_port = ports
    server_settings = {
        "host": HOST, "grpc_port": grpc_port, "http_port": http_port, "metrics_port": metrics_port,
        "parallel_workers": PARALLEL_WORKERS,
    }  # fmt: skip
    model_settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
    }
    (repo / "settings.json").write_text(json.dumps(server_settings))
    (folder / "model-settings.json").write_text(json.dumps(model_settings))
    shutil.copyfile(model.joblib_path, folder / "model.joblib")
    return repo


def grpc_label(answer: bytes) -> int:
    """The `predict` output of a ModelInferResponse, from contents or raw bytes."""
    from kanri.serving._pb import open_inference_pb2 as oip

    reply = oip.ModelInferResponse.FromString(answer)
    for i, out in enumerate(reply.outputs):
        if out.name != OUTPUT:
            continue
        if out.contents.int64_contents:
            return int(out.contents.int64_contents[0])
        if i < len(reply.raw_output_contents) and out.datatype == "INT64":
            return int(np.frombuffer(reply.raw_output_contents[i], dtype="<i8")[0])
        raise BenchError(f"mlserver: cannot decode output {out}")
    raise BenchError(f"mlserver: no `{OUTPUT}` output in {reply}")


def start(
    stack: contextlib.ExitStack,
    model: Model,
    workdir: Path,
    venv: Path,
    cpus: str | None,
    encoding: str,
    transports: tuple[str, ...],
) -> list[Target]:
    """MLServer with mlserver-sklearn serving model.joblib, one process: its gRPC and HTTP targets."""
    exe = ensure_venv(venv)
    grpc_port, http_port = free_port(), free_port()
    repo = write_repo(workdir, model, (grpc_port, http_port, free_port()))
    proc = spawn(
        stack,
        f"mlserver {VERSION}",
        pinned([str(exe), "start", str(repo)], cpus),
        workdir / "mlserver.log",
        cwd=repo,
        env=server_env(drop=("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")),
    )

    def check(label: object) -> None:
        if label != model.label:
            raise BenchError(f"mlserver: expected label {model.label}, got {label!r}")

    request = model.oip_request(encoding)
    targets = {
        GRPC: Target(
            "mlserver",
            f"mlserver {VERSION} gRPC",
            grpc_port,
            OIP_METHOD,
            request,
            lambda answer: check(grpc_label(answer)),
            proc,
        ),
        HTTP: Target(
            "mlserver-http",
            f"mlserver {VERSION} HTTP",
            http_port,
            OIP_PATH,
            model.oip_json(),
            lambda answer: check(oip_json_output(answer, OUTPUT)),
            proc,
            HTTP,
        ),
    }
    chosen = [targets[t] for t in transports]
    wait_ready(proc, lambda: all(call(t) for t in chosen))
    return chosen
