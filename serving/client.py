"""The kanri SDK: call a served model from Python, synchronously or with asyncio.

    from kanri.serving.client import Client
    client = Client(target="127.0.0.1:50051")
    client.predict([0, 0, 5, 13, ...]).label

``Client(app="digits", service_level="production", domain="example.com")``
dials ``digits-production.example.com:443`` over TLS and sends the
``x-kanri-app`` / ``x-kanri-service-level`` headers an ingress can route on;
without ``domain`` it dials the application's router in the embedded cluster.
Every failure is raised as ``ServingError`` with the gRPC status in ``.code``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from ._pb import serving_pb2 as pb
from ._pb import serving_pb2_grpc as pb_grpc
from .auth import PREDICT_TOKEN_VARIABLE
from .codec import decode_value, dict_to_struct, encode_value, struct_to_dict
from .config import data_dir
from .errors import ServingError

__all__ = ["AsyncClient", "Client", "EvaluationResult", "Prediction", "ServingError"]

# Every unary call of this API is idempotent (a prediction, a read, a switch to a named model, an
# upload of given bytes), so a call is retried whenever the server may not have run it: UNAVAILABLE,
# and CANCELLED, which a client that did not cancel receives only from the server. gRPC core answers
# CANCELLED to calls a stopping server had received but not yet handed to a handler
# (grpc/grpc#41785): without this, a worker's graceful drain loses a call now and then.
RETRY_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
UPLOAD_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Prediction:
    label: Any
    scores: list[float]
    option: dict[str, Any]
    model_version: str
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    count: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    model_version: str
    per_label: list[dict[str, Any]]
    labels: list[str]
    confusion_matrix: list[list[int]]
    details: list[dict[str, Any]] = field(default_factory=list)


def predict_request(data: Any, option: dict[str, Any] | None, request_id: str = "") -> pb.PredictRequest:
    return pb.PredictRequest(input=encode_value(data), option=dict_to_struct(option), request_id=request_id)


def prediction(response: pb.PredictResponse) -> Prediction:
    return Prediction(label=decode_value(response.output), scores=list(response.scores),
                      option=struct_to_dict(response.option), model_version=response.model_version,
                      request_id=response.request_id)


def evaluation(response: pb.EvaluateModelResponse) -> EvaluationResult:
    n = len(response.labels)
    cells = list(response.confusion_matrix)
    return EvaluationResult(
        count=response.count, accuracy=response.accuracy, precision=response.precision, recall=response.recall,
        f1=response.f1, model_version=response.model_version, labels=list(response.labels),
        per_label=[_as_dict(m) for m in response.per_label],
        confusion_matrix=[cells[i * n:(i + 1) * n] for i in range(n)],
        details=[{"input": decode_value(d.input), "label": decode_value(d.label), "output": decode_value(d.output),
                  "correct": d.correct, "scores": list(d.scores)} for d in response.details])


def _as_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def evaluate_requests(examples: Iterable[tuple[Any, Any]], return_details: bool,
                      option: dict[str, Any] | None) -> Iterator[pb.EvaluateModelRequest]:
    yield pb.EvaluateModelRequest(options=pb.EvaluateOptions(return_details=return_details,
                                                             option=dict_to_struct(option)))
    for data, label in examples:
        yield pb.EvaluateModelRequest(example=pb.LabelledExample(input=encode_value(data), label=encode_value(label)))


def upload_requests(path: Path, activate: bool, model_version: str) -> Iterator[pb.UploadModelRequest]:
    from .models import sha256_file

    header = pb.UploadHeader(filename=path.name, sha256=sha256_file(path), activate=activate,
                             model_version=model_version)
    yield pb.UploadModelRequest(header=header)
    with open(path, "rb") as f:
        while chunk := f.read(UPLOAD_CHUNK):
            yield pb.UploadModelRequest(chunk=chunk)


def _error(exc: grpc.RpcError) -> ServingError:
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
    return ServingError(details or code.name, code)


def trace_context() -> tuple[tuple[str, str], ...]:
    """The current span's context as metadata (traceparent, ...), propagated with OpenTelemetry's
    configured propagator; nothing when no span is current or OpenTelemetry is not installed."""
    if "opentelemetry.context" not in sys.modules:  # no OpenTelemetry loaded, so no span can be current
        return ()
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return tuple(carrier.items())


def local_route(app: str, service_level: str) -> str:
    """The router address of app at service_level in the embedded cluster, from its routes file."""
    routes_file = data_dir() / "local" / "routes.json"
    try:
        routes: dict[str, str] = json.loads(routes_file.read_text())
    except FileNotFoundError:
        routes = {}
    if f"{app}/{service_level}" not in routes:
        raise ValueError(f"{app} has no route at {service_level} in the local cluster ({routes_file}): deploy it "
                         "there, start it with `kanri local up`, or give domain= or target=")
    return routes[f"{app}/{service_level}"]


class _Settings:
    """Where to dial and what to send: shared by both clients. Without token=, the token is
    $KANRI_PREDICT_TOKEN when set: the one the servers started from the same environment ask for."""

    def __init__(self, target: str | None, app: str | None, service_level: str | None, domain: str | None,
                 port: int | None, token: str | None, admin_token: str | None, timeout: float | None,
                 retries: int, tls: bool | None, root_certificates: bytes | None) -> None:
        if target is None and app and service_level and not domain:
            target = local_route(app, service_level)
        elif target is None:
            if not (app and service_level and domain):
                raise ValueError("give target='host:port', or app=, service_level= and domain=")
            target = f"{app}-{service_level}.{domain}:{port or 443}"
            tls = True if tls is None else tls
        self.target = target
        self.timeout = timeout
        self.retries = retries
        self.credentials = grpc.ssl_channel_credentials(root_certificates) if tls else None
        routing = [("x-kanri-app", app)] if app else []
        routing += [("x-kanri-service-level", service_level)] if service_level else []
        token = os.environ.get(PREDICT_TOKEN_VARIABLE) if token is None else token
        self.metadata = tuple(routing + ([("authorization", f"Bearer {token}")] if token else []))
        self.admin_metadata = tuple(routing + ([("authorization", f"Bearer {admin_token}")] if admin_token else []))

    def call_metadata(self, admin: bool = False) -> tuple[tuple[str, str], ...]:
        """The metadata of one call: routing and token, plus the current trace context if any."""
        return (self.admin_metadata if admin else self.metadata) + trace_context()

    def retry_wait(self, exc: grpc.RpcError, attempt: int, deadline: float | None) -> float:
        """Seconds to wait before retrying exc, or the ServingError to raise when it is not retried."""
        wait: float = min(0.1 * 2 ** attempt, 2.0)
        last = attempt == self.retries or (deadline is not None and time.monotonic() + wait >= deadline)
        if exc.code() not in RETRY_CODES or last:
            raise _error(exc) from None
        return wait


class Client:
    """Synchronous client. Use as a context manager or call close()."""

    def __init__(self, target: str | None = None, *, app: str | None = None, service_level: str | None = None,
                 domain: str | None = None, port: int | None = None, token: str | None = None,
                 admin_token: str | None = None, timeout: float | None = 30.0, retries: int = 3,
                 tls: bool | None = None, root_certificates: bytes | None = None) -> None:
        self._s = _Settings(target, app, service_level, domain, port, token, admin_token, timeout, retries,
                            tls, root_certificates)
        self._channel = (grpc.secure_channel(self._s.target, self._s.credentials) if self._s.credentials
                         else grpc.insecure_channel(self._s.target))
        self._predict = pb_grpc.PredictionServiceStub(self._channel)
        self._admin = pb_grpc.AdminServiceStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: Callable[..., Any], make_request: Callable[[], Any], admin: bool = False) -> Any:
        deadline = time.monotonic() + self._s.timeout if self._s.timeout else None
        for attempt in range(self._s.retries + 1):
            remaining = deadline - time.monotonic() if deadline else None
            try:
                return method(make_request(), timeout=remaining, metadata=self._s.call_metadata(admin))
            except grpc.RpcError as exc:
                time.sleep(self._s.retry_wait(exc, attempt, deadline))
        raise AssertionError("unreachable")

    def predict(self, input: Any, option: dict[str, Any] | None = None, request_id: str = "") -> Prediction:
        request = predict_request(input, option, request_id)
        return prediction(self._call(self._predict.Predict, lambda: request))

    def predict_stream(self, inputs: Iterable[Any], option: dict[str, Any] | None = None) -> Iterator[Prediction]:
        """Answers in input order; the stream is not retried (it may have been partly answered)."""
        requests = (predict_request(data, option) for data in inputs)
        try:
            for response in self._predict.PredictStream(requests, timeout=self._s.timeout,
                                                        metadata=self._s.call_metadata()):
                yield prediction(response)
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def info(self) -> dict[str, Any]:
        return _as_dict(self._call(self._predict.GetServiceInfo, pb.GetServiceInfoRequest))

    def switch_model(self, model_path: str, sha256: str | None = None, model_version: str | None = None
                     ) -> dict[str, Any]:
        request = pb.SwitchModelRequest(model_uri=str(model_path), sha256=sha256 or "",
                                        model_version=model_version or "")
        return _as_dict(self._call(self._admin.SwitchModel, lambda: request, admin=True))

    def upload_model(self, path: str | Path, activate: bool = False, model_version: str = "") -> dict[str, Any]:
        return _as_dict(self._call(self._admin.UploadModel,
                                   lambda: upload_requests(Path(path), activate, model_version), admin=True))

    def evaluate(self, examples: Iterable[tuple[Any, Any]], return_details: bool = False,
                 option: dict[str, Any] | None = None) -> EvaluationResult:
        examples = list(examples)
        return evaluation(self._call(self._admin.EvaluateModel,
                                     lambda: evaluate_requests(examples, return_details, option), admin=True))


class AsyncClient:
    """The asyncio twin of Client: the same methods, awaited. Use `async with` or await close()."""

    def __init__(self, target: str | None = None, *, app: str | None = None, service_level: str | None = None,
                 domain: str | None = None, port: int | None = None, token: str | None = None,
                 admin_token: str | None = None, timeout: float | None = 30.0, retries: int = 3,
                 tls: bool | None = None, root_certificates: bytes | None = None) -> None:
        self._s = _Settings(target, app, service_level, domain, port, token, admin_token, timeout, retries,
                            tls, root_certificates)
        self._channel = (grpc.aio.secure_channel(self._s.target, self._s.credentials) if self._s.credentials
                         else grpc.aio.insecure_channel(self._s.target))
        self._predict = pb_grpc.PredictionServiceStub(self._channel)
        self._admin = pb_grpc.AdminServiceStub(self._channel)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: Callable[..., Any], make_request: Callable[[], Any], admin: bool = False) -> Any:
        deadline = time.monotonic() + self._s.timeout if self._s.timeout else None
        for attempt in range(self._s.retries + 1):
            remaining = deadline - time.monotonic() if deadline else None
            try:
                return await method(make_request(), timeout=remaining, metadata=self._s.call_metadata(admin))
            except grpc.RpcError as exc:
                await asyncio.sleep(self._s.retry_wait(exc, attempt, deadline))
        raise AssertionError("unreachable")

    async def predict(self, input: Any, option: dict[str, Any] | None = None, request_id: str = "") -> Prediction:
        request = predict_request(input, option, request_id)
        return prediction(await self._call(self._predict.Predict, lambda: request))

    async def predict_stream(self, inputs: Iterable[Any] | AsyncIterable[Any],
                             option: dict[str, Any] | None = None) -> AsyncIterator[Prediction]:
        async def requests() -> AsyncIterator[pb.PredictRequest]:
            if isinstance(inputs, AsyncIterable):
                async for data in inputs:
                    yield predict_request(data, option)
            else:
                for data in inputs:
                    yield predict_request(data, option)

        try:
            async for response in self._predict.PredictStream(requests(), timeout=self._s.timeout,
                                                              metadata=self._s.call_metadata()):
                yield prediction(response)
        except grpc.RpcError as exc:
            raise _error(exc) from None

    async def info(self) -> dict[str, Any]:
        return _as_dict(await self._call(self._predict.GetServiceInfo, pb.GetServiceInfoRequest))

    async def switch_model(self, model_path: str, sha256: str | None = None, model_version: str | None = None
                           ) -> dict[str, Any]:
        request = pb.SwitchModelRequest(model_uri=str(model_path), sha256=sha256 or "",
                                        model_version=model_version or "")
        return _as_dict(await self._call(self._admin.SwitchModel, lambda: request, admin=True))

    async def upload_model(self, path: str | Path, activate: bool = False, model_version: str = ""
                           ) -> dict[str, Any]:
        return _as_dict(await self._call(self._admin.UploadModel,
                                         lambda: upload_requests(Path(path), activate, model_version), admin=True))

    async def evaluate(self, examples: Iterable[tuple[Any, Any]], return_details: bool = False,
                       option: dict[str, Any] | None = None) -> EvaluationResult:
        examples = list(examples)
        return evaluation(await self._call(self._admin.EvaluateModel,
                                           lambda: evaluate_requests(examples, return_details, option), admin=True))
