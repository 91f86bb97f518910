"""Evaluate a model version on a labelled data set through the runtime's EvaluateModel RPC.

The model runs in a short-lived local `kanri serve` with exactly the code and
artifact a service would run, so the score is the served model's score.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import fsspec
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kanri.console.cluster.base import REPLICA_WORKERS
from kanri.console.cluster.local.processes import free_port
from kanri.console.errors import Invalid, Unavailable
from kanri.console.ops.context import Context, change, get_app, get_model
from kanri.console.ops.views import EvaluationView
from kanri.console.registry import schema
from kanri.serving.client import Client
from kanri.serving.errors import ServingError

STARTUP_TIMEOUT = 120.0


def read_examples(uri: str) -> tuple[list[tuple[Any, Any]], str]:
    """(input, label) pairs from a JSON-lines file of {"input": …, "label": …}, and the file's sha256."""
    try:
        with fsspec.open(uri, "rb") as f:
            raw = f.read()
    except (OSError, ValueError) as exc:
        raise Invalid(f"cannot read the data set {uri}: {exc}") from exc
    examples = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append((row["input"], row["label"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise Invalid(f"{uri} line {number} is not a JSON object with 'input' and 'label': {exc}") from exc
    if not examples:
        raise Invalid(f"the data set {uri} holds no examples")
    return examples, hashlib.sha256(raw).hexdigest()


def _serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        except grpc.RpcError:
            return False
    return answer.status == health_pb2.HealthCheckResponse.SERVING


@contextmanager
def temporary_runtime(app: str, predictor: str, uri: str, sha256: str, version: int, store: str,
                      admin_token: str) -> Iterator[str]:
    """A `kanri serve` of one model on a free loopback port, stopped on exit; yields its address."""
    port = free_port()
    args = [sys.executable, "-m", "kanri.serving", "serve", "--predictor", predictor, "--model", uri,
            "--sha256", sha256, "--model-version", str(version), "--app", app, "--service", f"{app}-evaluation",
            "--port", str(port),
            "--model-store", store, "--request-log-sample", "0", "--log-level", "warning", "--no-batching",
            "--workers", str(REPLICA_WORKERS)]
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, "KANRI_ADMIN_TOKEN": admin_token})
        try:
            target = f"127.0.0.1:{port}"
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not _serving(target):
                if process.poll() is not None or time.monotonic() > deadline:
                    output.seek(0)
                    tail = " | ".join(output.read().strip().splitlines()[-3:])
                    raise Unavailable(f"the runtime for {app} v{version} did not start: {tail or 'no output'}")
                time.sleep(0.1)
            yield target
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def evaluate_model(ctx: Context, app_name: str, version: int, data_uri: str,
                   progress: Callable[[str], None] = lambda _message: None) -> EvaluationView:
    examples, data_sha256 = read_examples(data_uri)
    with ctx.registry.session() as session:
        app = get_app(session, app_name)
        model = get_model(session, app, version)
        predictor, uri, sha256 = app.predictor, model.uri, model.sha256
    token = secrets.token_hex(16)
    progress(f"starting a runtime for {app_name} v{version}")
    with temporary_runtime(app_name, predictor, uri, sha256, version, ctx.store.root, token) as target:
        progress(f"evaluating {len(examples)} examples")
        try:
            with Client(target, admin_token=token, timeout=600.0) as client:
                result = client.evaluate(examples)
        except ServingError as exc:
            raise Invalid(f"evaluation of {app_name} v{version} failed: {exc}") from exc
    metrics = {"count": result.count, "accuracy": result.accuracy, "precision": result.precision,
               "recall": result.recall, "f1": result.f1, "per_label": result.per_label, "labels": result.labels,
               "confusion_matrix": result.confusion_matrix}
    with change(ctx, "model.evaluate", f"{app_name}/v{version}") as c:
        model = get_model(c.session, get_app(c.session, app_name), version)
        evaluation = schema.Evaluation(model=model, data_uri=data_uri, data_sha256=data_sha256, metrics=metrics,
                                       created_by=ctx.actor)
        c.session.add(evaluation)
        c.event.after = {"data_uri": data_uri, "accuracy": result.accuracy, "count": result.count}
        c.session.flush()
        return EvaluationView(app_name, version, data_uri, data_sha256, metrics, evaluation.created_at)
