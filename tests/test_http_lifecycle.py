"""The HTTP transport in the runtime's life: drain on SIGTERM, --workers N on one port, TLS, traces."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.support.http_calls import infer_body, start_http_serve
from tests.support.otlp import trace_receiver
from tests.support.prometheus import wait_until
from tests.support.servers import PREDICTORS

ECHO = f"{PREDICTORS}:Echo"


def test_sigterm_answers_503_to_new_requests_while_in_flight_ones_finish(
        tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_http_serve(tmp_path, ECHO, str(echo_models["v1"]), "--drain-delay-seconds", "1")
    body = json.dumps({"input": "in flight"}).encode()
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as in_flight:
        # A request in flight: its upload has begun, and finishes only after the drain has.
        in_flight.sendall(b"POST /kanri/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                          % (len(body), body[:5]))
        assert server.get("/v2/health/ready").status == 200
        server.process.process.terminate()
        # The drain delay: not ready, so balancers stop sending, but still answering.
        wait_until(lambda: server.get("/v2/health/ready").status == 503, 5, "readiness to turn 503")
        assert server.post("/kanri/v1/predict", {"input": "late"}).json()["output"] == "one:late"
        # Then new requests are refused, and the one in flight is answered.
        refused = wait_until(lambda: (a := server.post("/kanri/v1/predict", {"input": "x"})).status == 503 and a,
                             5, "new requests to be refused")
        assert "shutting down" in refused.error and refused.headers["connection"] == "close"
        in_flight.sendall(body[5:])
        answer = in_flight.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in answer and b"one:in flight" in answer
    assert server.process.process.wait(15) == 0
    with pytest.raises(ConnectionRefusedError):
        server.get("/v2/health/live")


def test_workers_share_the_http_port(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_http_serve(tmp_path, ECHO, str(echo_models["v1"]), "--workers", "2")
    try:
        answered = 0
        for _ in range(200):  # a connection per call, so the kernel spreads them over the workers
            answered += server.post("/kanri/v1/predict", {"input": "x"}).status == 200
            pids = {line["pid"] for line in map(json.loads, server.process.logs().splitlines()[1:])
                    if line.get("method") == "HTTP Predict" and line.get("code") == "OK"}
            if len(pids) == 2:
                break
        assert len(pids) == 2, f"{answered} answers, all from {pids}"
    finally:
        assert server.process.stop() == 0


def test_tls_serves_https(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = start_http_serve(tmp_path, ECHO, str(echo_models["v1"]), "--tls-cert", str(cert), "--tls-key", str(key),
                              wait=False)
    try:
        context = ssl.create_default_context(cafile=str(cert))

        def ready() -> bool:
            connection = http.client.HTTPSConnection("127.0.0.1", server.http_port, context=context, timeout=5)
            try:
                connection.request("GET", "/v2/health/ready")
                return connection.getresponse().status == 200
            except OSError:
                return False
            finally:
                connection.close()

        wait_until(ready, 30, "the HTTPS port to answer ready")
        with pytest.raises(http.client.RemoteDisconnected):
            server.get("/v2/health/ready")  # plaintext is not served there
    finally:
        server.process.stop()


def test_a_request_continues_the_callers_trace(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with trace_receiver() as receiver:
        server = start_http_serve(tmp_path, ECHO, str(echo_models["v1"]), "--model-version", "1",
                                  "--otlp-endpoint", receiver.endpoint, env={"OTEL_BSP_SCHEDULE_DELAY": "50"})
        try:
            answer = server.post("/v2/models/testapp/infer", infer_body("BYTES", [1], ["x"], id="traced-http"),
                                 {"traceparent": f"00-{trace_id}-{parent}-01"})
            assert answer.status == 200
            bad = server.post("/kanri/v1/predict", {"input": "bad"}, {"traceparent": f"00-{'7' * 32}-{parent}-01"})
            assert bad.status == 400

            def spans(trace: str, names: set[str]) -> dict[str, object]:
                found = {s.name: s for s in receiver.spans() if s.trace_id.hex() == trace}
                return found if names <= set(found) else {}

            phases = {"decode", "predict", "encode"}
            infer = wait_until(lambda: spans(trace_id, {"POST /v2/models/{name}/infer", *phases}), 10, "the spans")
            call = infer["POST /v2/models/{name}/infer"]
            assert call.parent_span_id.hex() == parent and call.kind == call.SPAN_KIND_SERVER
            values = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in call.attributes}
            assert values["http.response.status_code"] == 200 and values["kanri.model_version"] == "1"
            assert values["http.route"] == "/v2/models/{name}/infer"
            assert all(infer[name].parent_span_id == call.span_id for name in phases)
            predict = wait_until(lambda: spans("7" * 32, {"POST /kanri/v1/predict"}), 10,
                                 "the refused prediction's span")["POST /kanri/v1/predict"]
            assert predict.status.code == predict.status.STATUS_CODE_ERROR and "not a word" in predict.status.message
            line = next(json.loads(line) for line in server.process.logs().splitlines() if "traced-http" in line)
            assert (line["trace_id"], line["span_id"]) == (trace_id, call.span_id.hex())
        finally:
            server.process.stop()
