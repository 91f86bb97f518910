"""The SDK: addressing, routing headers, retries, deadlines, TLS, errors."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from kanri.serving._pb import serving_pb2 as pb
from kanri.serving.client import AsyncClient, Client, ServingError, encode_value
from tests.support.servers import PREDICTORS, free_port, start_serve


class FlakyPrediction:
    """A bare grpc.aio server whose Predict fails with self.code a set number of times, recording metadata."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.code = grpc.StatusCode.UNAVAILABLE
        self.calls = 0
        self.metadata: list[dict[str, str]] = []

    async def predict(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.calls += 1
        self.metadata.append(dict(context.invocation_metadata()))
        if self.calls <= self.failures:
            await context.abort(self.code, "warming up")
        return pb.PredictResponse(output=pb.Value(str="ok"), model_version="7").SerializeToString()


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[FlakyPrediction, str]]:
    fake = FlakyPrediction(failures=2)
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler("kanri.serving.v1.PredictionService", {
        "Predict": grpc.unary_unary_rpc_method_handler(fake.predict),
    })
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, f"127.0.0.1:{port}"
    await server.stop(None)


async def test_unavailable_is_retried_and_routing_headers_sent(flaky: tuple[FlakyPrediction, str]) -> None:
    fake, target = flaky
    async with AsyncClient(target, app="digits", service_level="staging", token="t0k") as client:
        answer = await client.predict([1, 2])
    assert (answer.label, answer.model_version) == ("ok", "7")
    assert fake.calls == 3
    assert fake.metadata[-1]["x-kanri-app"] == "digits"
    assert fake.metadata[-1]["x-kanri-service-level"] == "staging"
    assert fake.metadata[-1]["authorization"] == "Bearer t0k"


async def test_cancelled_by_the_server_is_retried(flaky: tuple[FlakyPrediction, str]) -> None:
    """What a stopping gRPC server answers to calls it had not handed to a handler yet (grpc/grpc#41785)."""
    fake, target = flaky
    fake.code = grpc.StatusCode.CANCELLED
    async with AsyncClient(target) as client:
        assert (await client.predict("x")).label == "ok"
    assert fake.calls == 3


async def test_other_codes_are_not_retried(flaky: tuple[FlakyPrediction, str]) -> None:
    fake, target = flaky
    fake.code = grpc.StatusCode.INVALID_ARGUMENT
    async with AsyncClient(target) as client:
        with pytest.raises(ServingError) as error:
            await client.predict("x")
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert fake.calls == 1


async def test_retries_give_up_with_the_last_status(flaky: tuple[FlakyPrediction, str]) -> None:
    fake, target = flaky
    async with AsyncClient(target, retries=1) as client:
        with pytest.raises(ServingError) as error:
            await client.predict("x")
    assert error.value.code == grpc.StatusCode.UNAVAILABLE
    assert error.value.message == "warming up"
    assert fake.calls == 2


async def test_the_current_span_travels_as_traceparent(flaky: tuple[FlakyPrediction, str]) -> None:
    fake, target = flaky
    fake.failures = 0
    caller = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    async with AsyncClient(target) as client:
        await client.predict("outside a span")
        with trace.use_span(NonRecordingSpan(caller)):
            await client.predict("inside")
    assert "traceparent" not in fake.metadata[0]
    assert fake.metadata[1]["traceparent"] == f"00-{0xABC:032x}-{0xDEF:016x}-01"


def test_app_and_level_address_the_ingress_host() -> None:
    client = Client(app="digits", service_level="production", domain="example.com")
    try:
        assert client._s.target == "digits-production.example.com:443"
        assert client._s.credentials is not None  # TLS by default through an ingress
    finally:
        client.close()
    with pytest.raises(ValueError, match="give target="):
        Client(app="digits")


def test_deadline_exceeded_is_a_serving_error(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]))
    try:
        with Client(server.target, timeout=0.3) as client, pytest.raises(ServingError) as error:
            client.predict("sleep:1")
        assert error.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        server.stop()


def test_unreachable_server_is_unavailable_after_retries() -> None:
    with Client(f"127.0.0.1:{free_port()}", retries=2, timeout=5) as client, pytest.raises(ServingError) as error:
        client.predict("x")
    assert error.value.code == grpc.StatusCode.UNAVAILABLE


def test_tls(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--tls-cert", str(cert),
                         "--tls-key", str(key), wait=False)
    try:
        with Client(server.target, tls=True, root_certificates=cert.read_bytes(), timeout=20,
                    retries=8) as client:  # retried while the server starts
            assert client.predict("secure").label == "one:secure"
        with Client(server.target, retries=0, timeout=3) as plain, pytest.raises(ServingError) as error:
            plain.predict("x")
        assert error.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


@pytest.mark.parametrize(("value", "kind"), [
    ("text", "str"), (b"\x00\x01", "bytes"), ([1, 2], "ints"), ([1, 2.5], "floats"), (["a", "b"], "strs"),
    ((3, 4), "ints"),
])
def test_inputs_are_sent_as_the_value_kind_they_fit(value: object, kind: str) -> None:
    assert encode_value(value).WhichOneof("kind") == kind


def test_unsendable_inputs_are_refused_before_sending() -> None:
    with pytest.raises(TypeError, match="inputs are str, bytes, or a list"):
        encode_value({"a": 1})
    with pytest.raises(TypeError):
        encode_value([1, "mixed"])


@pytest.mark.parametrize(("predictor", "value", "expected"), [
    ("Floats", [1.5, 2], [1.5, 2.0]),
    ("Bytes", b"abc", b"cba"),
    ("Words", ["a", "bc"], ["A", "BC"]),
    ("Ints", [3, 1, 2], [1, 2, 3]),
])
def test_every_value_type_round_trips(tmp_path: Path, predictor: str, value: object, expected: object) -> None:
    model = tmp_path / "model.txt"
    model.write_text("1")
    server = start_serve(tmp_path, f"{PREDICTORS}:{predictor}", str(model))
    try:
        with Client(server.target) as client:
            assert client.predict(value).label == expected
    finally:
        server.stop()


def test_non_finite_floats_are_refused_on_the_kanri_api(tmp_path: Path) -> None:
    model = tmp_path / "model.txt"
    model.write_text("1")
    server = start_serve(tmp_path, f"{PREDICTORS}:Floats", str(model))
    try:
        with Client(server.target) as client, pytest.raises(ServingError) as error:
            client.predict([1.0, float("inf")])
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "finite" in error.value.message
    finally:
        server.stop()
