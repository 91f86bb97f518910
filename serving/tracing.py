"""OpenTelemetry traces of the runtime, exported over OTLP/gRPC when an endpoint is configured.

This module imports OpenTelemetry, so the server imports it only when tracing
is on: a runtime without an endpoint loads no OpenTelemetry module and creates
no span (rpc.py tests one attribute per call).

Every call gets a server span (the receive), which continues the caller's W3C
``traceparent`` from the call's gRPC metadata or HTTP headers: named after its
method over gRPC, after its verb and route over HTTP. Predictions (Predict,
PredictStream, ModelInfer, and their HTTP forms) add the child spans decode,
predict and encode.
The server span and the predict span carry the model version. Log lines
written during a call carry the trace and span ids (logs.set_trace_fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextvars import Token

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import __version__, logs
from ._pb import open_inference_pb2 as oip
from ._pb import serving_pb2 as pb
from .config import ServerSettings
from .dataplane import DataPlane
from .inference import Inference
from .models import LoadedModel
from .prediction import Predictions
from .predictor import PredictResult

MODEL_VERSION = "kanri.model_version"
_PROPAGATOR = TraceContextTextMapPropagator()

ServerSpan = tuple[Span, Token[Context]]  # the server span and the context token that made it current


class Tracing:
    """Starts and ends the spans of one server process."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("kanri.serving", __version__)

    def start_call(self, name: str, carrier: Mapping[str, str | bytes], attributes: dict[str, str]) -> ServerSpan:
        """A server span for this call, child of the traceparent in carrier (metadata or headers) if any,
        made current."""
        parent = _PROPAGATOR.extract(carrier)
        span = self._tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes)
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    def end_call(self, call: ServerSpan, code: grpc.StatusCode, version: str, error: str,
                 status: tuple[str, int]) -> None:
        span, token = call
        if version:
            span.set_attribute(MODEL_VERSION, version)
        span.set_attribute(*status)
        if code is not grpc.StatusCode.OK:
            span.set_status(Status(StatusCode.ERROR, error or code.name))
        span.end()
        otel_context.detach(token)

    def phase(self, name: str) -> AbstractContextManager[Span]:
        """A child span of the current one for one phase of a call (decode, predict, encode)."""
        return self._tracer.start_as_current_span(name)

    def shutdown(self) -> None:
        """Export what is still queued."""
        self._provider.shutdown()


def start_tracing(settings: ServerSettings) -> Tracing:
    """Export spans to settings.otlp_endpoint and stamp log lines with trace ids."""
    resource = Resource.create({"service.name": settings.service_name, "service.namespace": settings.app,
                                "deployment.environment": settings.service_level,
                                "service.version": __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    # Global, so spans a predictor makes itself land in the same traces.
    trace.set_tracer_provider(provider)
    logs.set_trace_fields(current_trace_fields)
    return Tracing(provider)


def current_trace_fields() -> dict[str, str]:
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": trace.format_trace_id(span_context.trace_id),
            "span_id": trace.format_span_id(span_context.span_id)}


class TracedPredictions(Predictions):
    """kanri's Predict with decode, predict and encode spans."""

    def __init__(self, dataplane: DataPlane, tracing: Tracing) -> None:
        super().__init__(dataplane)
        self.tracing = tracing

    async def predict(self, request: pb.PredictRequest) -> pb.PredictResponse:
        if not trace.get_current_span().is_recording():  # sampled out: no phase spans either
            return await super().predict(request)
        with self.tracing.phase("decode"):
            value, option = self.decode(request)
        with self.tracing.phase("predict") as span:
            result, model = await self.dp.predict(value, option)
            span.set_attribute(MODEL_VERSION, model.version)
        with self.tracing.phase("encode"):
            return self.answer(result, model, request.request_id)


class TracedInference(Inference):
    """The Open Inference Protocol with decode, predict and encode spans."""

    def __init__(self, dataplane: DataPlane, tracing: Tracing) -> None:
        super().__init__(dataplane)
        self.tracing = tracing

    async def infer(self, request: oip.ModelInferRequest) -> oip.ModelInferResponse:
        if not trace.get_current_span().is_recording():
            return await super().infer(request)
        with self.tracing.phase("decode"):
            values, option, requested = self.decode(request)
        with self.tracing.phase("predict") as span:
            answers: list[tuple[PredictResult, LoadedModel]] = await self.predict(values, option)
            span.set_attribute(MODEL_VERSION, answers[-1][1].version)
        with self.tracing.phase("encode"):
            return self.encode(request, requested, answers)
