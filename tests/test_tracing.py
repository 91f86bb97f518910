"""Traces: a runtime exporting to an OTLP receiver continues the caller's trace; logs carry the trace id."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from kanri.serving._pb import open_inference_pb2 as oip
from kanri.serving._pb import open_inference_pb2_grpc as oip_grpc
from kanri.serving._pb import serving_pb2 as pb
from kanri.serving._pb import serving_pb2_grpc as pb_grpc
from kanri.serving.client import Client
from kanri.serving.errors import ServingError
from tests.support.otlp import TraceReceiver, trace_receiver
from tests.support.prometheus import wait_until
from tests.support.servers import PREDICTORS, ROOT, ServeProcess, start_serve

CALLER = SpanContext(trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id=0x00F067AA0BA902B7, is_remote=False,
                     trace_flags=TraceFlags(TraceFlags.SAMPLED))
TRACE_ID = f"{CALLER.trace_id:032x}"


@pytest.fixture(scope="module")
def receiver() -> Iterator[TraceReceiver]:
    with trace_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def traced_server(tmp_path_factory: pytest.TempPathFactory, echo_models: dict[str, Path],
                  receiver: TraceReceiver) -> Iterator[ServeProcess]:
    server = start_serve(tmp_path_factory.mktemp("traced"), f"{PREDICTORS}:Echo", str(echo_models["v1"]),
                         "--model-version", "1", "--otlp-endpoint", receiver.endpoint,
                         env={"OTEL_BSP_SCHEDULE_DELAY": "50"})
    yield server
    server.stop()


def in_caller_trace(spans: list, names: set[str]) -> dict[str, list]:
    """The spans of the caller's trace, by name, once every name in names arrived."""
    by_name: dict[str, list] = {}
    for span in spans:
        if span.trace_id.hex() == TRACE_ID:
            by_name.setdefault(span.name, []).append(span)
    return by_name if names <= set(by_name) else {}


def attributes(span) -> dict[str, object]:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}


def test_a_call_continues_the_callers_trace_with_phase_spans_and_the_model_version(
        traced_server: ServeProcess, receiver: TraceReceiver) -> None:
    with trace.use_span(NonRecordingSpan(CALLER)), Client(traced_server.target) as client:
        assert client.predict("hi", request_id="traced-1").label == "one:hi"
    phases = {"decode", "predict", "encode"}
    spans = wait_until(lambda: in_caller_trace(receiver.spans(), {"Predict", *phases}), 10, "the Predict spans")
    (call,) = spans["Predict"]
    assert call.parent_span_id.hex() == f"{CALLER.span_id:016x}"
    assert call.kind == call.SPAN_KIND_SERVER
    assert attributes(call)["kanri.model_version"] == "1"
    assert all(spans[name][0].parent_span_id == call.span_id for name in phases)
    assert attributes(spans["predict"][0])["kanri.model_version"] == "1"
    request_lines = [json.loads(line) for line in traced_server.logs().splitlines() if "traced-1" in line]
    assert [(line["trace_id"], line["span_id"]) for line in request_lines] == [(TRACE_ID, call.span_id.hex())]


def test_open_inference_and_stream_calls_are_traced(traced_server: ServeProcess, receiver: TraceReceiver) -> None:
    traceparent = f"00-{TRACE_ID}-{CALLER.span_id:016x}-01"
    tensor = oip.ModelInferRequest.InferInputTensor(name="input", datatype="BYTES", shape=[1])
    tensor.contents.bytes_contents.append(b"x")
    with grpc.insecure_channel(traced_server.target) as channel:
        oip_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            oip.ModelInferRequest(model_name="testapp", inputs=[tensor]), metadata=[("traceparent", traceparent)],
            timeout=10)
    with trace.use_span(NonRecordingSpan(CALLER)), Client(traced_server.target) as client:
        assert [p.label for p in client.predict_stream(["a", "b"])] == ["one:a", "one:b"]
    spans = wait_until(lambda: in_caller_trace(receiver.spans(), {"ModelInfer", "PredictStream"}), 10,
                       "the ModelInfer and PredictStream spans")
    (infer,), (stream,) = spans["ModelInfer"], spans["PredictStream"]
    assert attributes(infer)["kanri.model_version"] == "1"
    children = [s for spans_of_name in spans.values() for s in spans_of_name]
    assert {s.name for s in children if s.parent_span_id == infer.span_id} == {"decode", "predict", "encode"}
    assert sorted(s.name for s in children if s.parent_span_id == stream.span_id) == [
        "decode", "decode", "encode", "encode", "predict", "predict"]


def test_a_failed_stream_ends_its_span_with_the_streams_status(traced_server: ServeProcess,
                                                                 receiver: TraceReceiver) -> None:
    failing = SpanContext(trace_id=0x7A, span_id=0x7B, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with (trace.use_span(NonRecordingSpan(failing)), Client(traced_server.target) as client,
          pytest.raises(ServingError, match="not a word this model knows")):
        list(client.predict_stream(["a", "bad"]))
    (stream,) = wait_until(lambda: [s for s in receiver.spans()
                                    if s.trace_id.hex() == f"{0x7A:032x}" and s.name == "PredictStream"], 10,
                           "the failed stream's span")
    assert attributes(stream)["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert stream.status.code == stream.status.STATUS_CODE_ERROR
    assert "not a word this model knows" in stream.status.message


def test_a_stream_its_caller_cancels_ends_its_span_as_cancelled(traced_server: ServeProcess,
                                                                  receiver: TraceReceiver) -> None:
    cancelled = threading.Event()

    def requests() -> Iterator[pb.PredictRequest]:
        yield pb.PredictRequest(input=pb.Value(str="a"))
        yield pb.PredictRequest(input=pb.Value(str="sleep:1"))
        cancelled.wait(10)

    with grpc.insecure_channel(traced_server.target) as channel:
        call = pb_grpc.PredictionServiceStub(channel).PredictStream(
            requests(), metadata=[("traceparent", f"00-{0x8A:032x}-{0x8B:016x}-01")], timeout=10)
        assert next(call).output.str == "one:a"
        time.sleep(0.2)  # cancelled while the second prediction sleeps, well past the first answer
        call.cancel()
        cancelled.set()
    (stream,) = wait_until(lambda: [s for s in receiver.spans()
                                    if s.trace_id.hex() == f"{0x8A:032x}" and s.name == "PredictStream"], 10,
                           "the cancelled stream's span")
    assert attributes(stream)["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    assert stream.status.code == stream.status.STATUS_CODE_ERROR


def test_tracing_off_loads_no_opentelemetry() -> None:
    probe = ("import sys; import kanri.serving.cli, kanri.serving.server, kanri.serving.client; "
             "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_endpoint_without_the_tracing_extra_is_one_clear_error(tmp_path: Path,
                                                                  echo_models: dict[str, Path]) -> None:
    hidden = tmp_path / "no-otel" / "opentelemetry"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named opentelemetry')\n")
    done = subprocess.run(
        [sys.executable, "-m", "kanri.serving", "serve", "--predictor", f"{PREDICTORS}:Echo", "--model",
         str(echo_models["v1"]), "--otlp-endpoint", "http://127.0.0.1:4317"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{hidden.parent}:{ROOT}"})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: tracing to an OTLP endpoint needs OpenTelemetry (No module named opentelemetry): pip install "
        "'kanri[tracing]', or unset --otlp-endpoint / KANRI_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / "
        "OTEL_EXPORTER_OTLP_ENDPOINT"]


def test_a_caller_that_samples_out_gets_no_spans_but_its_trace_id_in_the_logs(
        traced_server: ServeProcess, receiver: TraceReceiver) -> None:
    quiet = SpanContext(trace_id=0x5A, span_id=0x5B, is_remote=False, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    later = SpanContext(trace_id=0x6A, span_id=0x6B, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with Client(traced_server.target) as client:
        with trace.use_span(NonRecordingSpan(quiet)):
            client.predict("quiet", request_id="sampled-out")
        with trace.use_span(NonRecordingSpan(later)):
            client.predict("later")
    # Spans are exported in the order they end: once the later call's arrived, the quiet one's would have.
    wait_until(lambda: any(span.trace_id.hex() == f"{0x6A:032x}" for span in receiver.spans()), 10,
               "the later call's spans")
    assert not [span for span in receiver.spans() if span.trace_id.hex() == f"{0x5A:032x}"]
    (line,) = [json.loads(line) for line in traced_server.logs().splitlines() if "sampled-out" in line]
    assert line["trace_id"] == f"{0x5A:032x}"
