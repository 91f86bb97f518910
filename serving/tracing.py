"""OpenTelemetry traces of the runtime, exported over OTLP/gRPC when an endpoint is configured.

This module imports OpenTelemetry, so the server imports it only when tracing
is on: a runtime without an endpoint loads no OpenTelemetry module and creates
no span (rpc.py tests one attribute per call).

Every call gets a server span named after its method (the receive), which
continues the caller's W3C ``traceparent`` from the call's metadata. Predict,
PredictStream and ModelInfer add the child spans decode, predict and encode.
The server span and the predict span carry the model version. Log lines
written during a call carry the trace and span ids (logs.set_trace_fields).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
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
from .kanri_api import PredictionService
from .models import LoadedModel
from .oip import InferenceService
from .predictor import PredictResult

MODEL_VERSION = "kanri.model_version"
_PROPAGATOR = TraceContextTextMapPropagator()

Call = tuple[Span, object]  # the server span and the context token that made it current


class Tracing:
    """Starts and ends the spans of one server process."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("kanri.serving", __version__)

    def start_call(self, method: str, context: grpc.aio.ServicerContext) -> Call:
        """A server span for this call, child of the caller's traceparent if it sent one, made current."""
        parent = _PROPAGATOR.extract(dict(context.invocation_metadata() or ()))
        span = self._tracer.start_span(method, context=parent, kind=SpanKind.SERVER,
                                       attributes={"rpc.system": "grpc", "rpc.method": method})
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    def end_call(self, call: Call, code: grpc.StatusCode, version: str, error: str) -> None:
        span, token = call
        if version:
            span.set_attribute(MODEL_VERSION, version)
        span.set_attribute("rpc.grpc.status_code", code.value[0])
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


class TracedPredictionService(PredictionService):
    """The kanri API with decode, predict and encode spans."""

    async def _predict(self, request: pb.PredictRequest) -> pb.PredictResponse:
        if not trace.get_current_span().is_recording():  # sampled out: no phase spans either
            return await super()._predict(request)
        tracing: Tracing = self.runtime.tracing  # type: ignore[assignment]
        with tracing.phase("decode"):
            value, option = self._decode(request)
        with tracing.phase("predict") as span:
            result, model = await self.dp.predict(value, option)
            span.set_attribute(MODEL_VERSION, model.version)
        with tracing.phase("encode"):
            return self._answer(result, model, request.request_id)


class TracedInferenceService(InferenceService):
    """The Open Inference Protocol with decode, predict and encode spans."""

    async def _infer(self, request: oip.ModelInferRequest) -> oip.ModelInferResponse:
        if not trace.get_current_span().is_recording():
            return await super()._infer(request)
        tracing: Tracing = self.runtime.tracing  # type: ignore[assignment]
        with tracing.phase("decode"):
            values, option, requested = self._decode(request)
        with tracing.phase("predict") as span:
            answers: list[tuple[PredictResult, LoadedModel]] = await self._predict(values, option)
            span.set_attribute(MODEL_VERSION, answers[-1][1].version)
        with tracing.phase("encode"):
            return self._encode(request, requested, answers)

