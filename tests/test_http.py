"""`kanri serve --http-port`: the Open Inference Protocol's REST API and kanri's JSON Predict of a real
process, driven with the standard library's HTTP client and raw sockets; the same data plane as gRPC."""

from __future__ import annotations

import base64
import gzip
import json
import os
import socket
import struct
import subprocess
import sys
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2

from kanri.console.cluster.local.processes import free_port
from kanri.serving.client import Client
from kanri.serving.config import ServerSettings
from tests.support.http_calls import HttpServe, infer_body, start_http_serve
from tests.support.servers import PREDICTORS, ROOT

WORD = infer_body("BYTES", [1], ["x"])


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory, echo_models: dict[str, Path]) -> Iterator[HttpServe]:
    server = start_http_serve(tmp_path_factory.mktemp("http-echo"), f"{PREDICTORS}:Echo", str(echo_models["v1"]),
                              "--model-version", "1", "--max-message-mb", "1")
    yield server
    server.process.stop()


@pytest.fixture(scope="module")
def typed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, HttpServe]]:
    """A server per predictor type beyond str, started together."""
    folder = tmp_path_factory.mktemp("http-typed")
    (folder / "factor.txt").write_text("2")
    servers = {}
    try:
        for name in ("Ints", "Floats", "Bytes"):
            (folder / name).mkdir()
            servers[name] = start_http_serve(folder / name, f"{PREDICTORS}:{name}", str(folder / "factor.txt"),
                                             "--model-version", "7", wait=False)
        for server in servers.values():
            server.process.wait_health()
        yield servers
    finally:
        for server in servers.values():
            server.process.stop()


def metrics(server: HttpServe) -> str:
    url = f"http://127.0.0.1:{server.process.metrics_port}/metrics"
    return urllib.request.urlopen(url, timeout=5).read().decode()


def request_lines(server: HttpServe) -> list[dict]:
    lines = [json.loads(line) for line in server.process.logs().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "kanri.request"]


def exchange(server: HttpServe, raw: bytes, answers: int = 1) -> bytes:
    """Send raw bytes on one connection; read until `answers` responses came or the server closed."""
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while received.count(b"HTTP/1.1 ") < answers or not _complete(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def _complete(received: bytes) -> bool:
    """Whether the last response in received is whole."""
    head, end, body = received[received.rfind(b"HTTP/1.1 "):].partition(b"\r\n\r\n")
    lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.startswith(b"content-length:")]
    return bool(end) and len(body) >= sum(lengths)


# --- the Open Inference Protocol ---------------------------------------------------------------

def test_health_and_metadata(echo: HttpServe) -> None:
    assert (echo.get("/v2/health/live").status, echo.get("/v2/health/live").json()) == (200, {"live": True})
    assert (echo.get("/v2/health/ready").status, echo.get("/v2/health/ready").json()) == (200, {"ready": True})
    server = echo.get("/v2")
    assert server.json()["name"] == "kanri" and server.json()["extensions"] == ["binary_tensor_data"]
    model = {"name": "testapp", "versions": ["1"], "platform": "kanri",
             "inputs": [{"name": "input", "datatype": "BYTES", "shape": [-1]}],
             "outputs": [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                         {"name": "scores", "datatype": "FP64", "shape": [-1, -1]}]}
    assert echo.get("/v2/models/testapp").json() == model
    assert echo.get("/v2/models/testapp/versions/1").json() == model
    assert echo.get("/v2/models/testapp/ready").json() == {"name": "testapp", "ready": True}
    assert echo.get("/v2/models/testapp/versions/1/ready").status == 200


@pytest.mark.parametrize("path", ["/v2/models/other", "/v2/models/testapp/versions/2", "/v2/models/other/ready",
                                  "/v2/models/testapp/versions/2/ready"])
def test_another_model_or_version_is_404(echo: HttpServe, path: str) -> None:
    answer = echo.get(path)
    assert answer.status == 404
    assert "other" in answer.error or "'2'" in answer.error


def test_infer_with_json_tensors(echo: HttpServe) -> None:
    answer = echo.post("/v2/models/testapp/infer", infer_body("BYTES", [2], ["héllo", "wörld"], id="req-1",
                                                              parameters={"who": "kanri", "n": 3}))
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "model_name": "testapp", "model_version": "1", "id": "req-1", "parameters": {"who": "kanri", "n": 3},
        "outputs": [{"name": "label", "datatype": "BYTES", "shape": [2], "data": ["one:héllo", "one:wörld"]},
                    {"name": "scores", "datatype": "FP64", "shape": [2, 1], "data": [1.0, 1.0]}]}
    versioned = echo.post("/v2/models/testapp/versions/1/infer", {**WORD, "outputs": [{"name": "scores"}]})
    assert [o["name"] for o in versioned.json()["outputs"]] == ["scores"]


def test_infer_with_binary_tensor_data(echo: HttpServe) -> None:
    """The extension's framing by hand: JSON, then the bytes; tritonclient's side is in test_http_clients."""
    words = [b"ab", "é".encode()]
    raw = b"".join(struct.pack("<I", len(w)) + w for w in words)
    head = json.dumps({"inputs": [{"name": "input", "datatype": "BYTES", "shape": [2],
                                   "parameters": {"binary_data_size": len(raw)}}],
                       "outputs": [{"name": "label", "parameters": {"binary_data": True}},
                                   {"name": "scores"}]}).encode()
    answer = echo.post("/v2/models/testapp/infer", head + raw,
                       {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"})
    assert answer.status == 200 and answer.headers["content-type"] == "application/octet-stream"
    length = int(answer.headers["inference-header-content-length"])
    document, blob = json.loads(answer.body[:length]), answer.body[length:]
    label, scores = document["outputs"]
    assert label == {"name": "label", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": len(blob)}}
    assert blob == b"".join(struct.pack("<I", len(w)) + w for w in (b"one:ab", "one:é".encode()))
    assert scores["data"] == [1.0, 1.0]
    everything = echo.post("/v2/models/testapp/infer", {**WORD, "parameters": {"binary_data_output": True}})
    head_length = int(everything.headers["inference-header-content-length"])
    assert [o["parameters"]["binary_data_size"] for o in json.loads(everything.body[:head_length])["outputs"]] == [
        4 + len(b"one:x"), 8]
    assert everything.body[head_length:] == struct.pack("<I", 5) + b"one:x" + struct.pack("<d", 1.0)


def test_numeric_tensors(typed: dict[str, HttpServe]) -> None:
    ints = typed["Ints"].post("/v2/models/testapp/infer", infer_body("INT32", [2, 3], [[3, 1, 2], [0, -5, 5]]))
    label = ints.json()["outputs"][0]
    assert (label["datatype"], label["shape"], label["data"]) == ("INT64", [2, 3], [1, 2, 3, -5, 0, 5])
    flat = typed["Ints"].post("/v2/models/testapp/infer", infer_body("UINT8", [1, 2], [2, 1]))
    assert flat.json()["outputs"][0]["data"] == [1, 2]
    for datatype in ("FP16", "FP32", "FP64"):
        floats = typed["Floats"].post("/v2/models/testapp/infer", infer_body(datatype, [1, 2], [[0.5, 1]]))
        assert floats.json()["outputs"][0]["data"] == [1.0, 2.0], datatype
    not_utf8 = typed["Bytes"].post("/v2/models/testapp/infer", infer_body("BYTES", [1], ["\u00ff"]))
    assert "binary_data" in not_utf8.error and not_utf8.status == 400  # b"\xbf\xc3" reversed is not UTF-8 text


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object, got an array"),
    (b"\xff\xfe\x00", "not"),
    ({"outputs": []}, 'has no "inputs"'),
    ({"inputs": {}}, '"inputs" must be a JSON array'),
    ({"inputs": [{"name": "input", "datatype": "BYTES", "data": ["x"]}]}, 'has no "shape"'),
    (infer_body("INT64", [1], [1]), "has datatype INT64; this model takes str as BYTES"),
    (infer_body("BYTES", [2], ["x"]), "has 1 elements; its shape [2] needs 2"),
    (infer_body("BYTES", [1], [1]), "holds a number; its elements must be strings"),
    (infer_body("BYTES", [-1], []), "negative dimension"),
    (infer_body("BYTES", [1], "x"), "data must be a JSON array, got a string"),
    ({"inputs": [{"name": "input", "datatype": "BYTES", "shape": [1]}]}, 'has no "data"'),
    ({**WORD, "parameters": {"deep": {"a": 1}}}, "parameters are true/false, numbers or strings"),
    ({**WORD, "parameters": {"option": "[1]"}}, "parameter 'option' must be a JSON object"),
    ({**WORD, "parameters": {"option": '{"k": 1e999}'}}, "1e999 is out of the range of a double"),
    ({**WORD, "outputs": [{"name": "probabilities"}]}, "unknown output(s) ['probabilities']"),
    (b'{"inputs": [{"name": "input", "datatype": "FP64", "shape": [1], "data": [NaN]}]}', "NaN is not a JSON number"),
    ({"inputs": [WORD["inputs"][0], WORD["inputs"][0]]}, "exactly one input tensor, got 2"),
    (infer_body("BYTES", [1], ["bad"]), "'bad' is not a word this model knows"),
])
def test_bad_requests_are_400_saying_what_was_wrong(echo: HttpServe, body: object, message: str) -> None:
    answer = echo.post("/v2/models/testapp/infer", body)
    assert answer.status == 400, answer.body
    assert message in answer.error


def test_binary_data_that_does_not_add_up_is_400(echo: HttpServe) -> None:
    head = json.dumps({"inputs": [{"name": "input", "datatype": "BYTES", "shape": [1],
                                   "parameters": {"binary_data_size": 9}}]}).encode()
    short = echo.post("/v2/models/testapp/infer", head + b"\x01\x00\x00\x00x",
                      {"Inference-Header-Content-Length": str(len(head))})
    assert short.status == 400 and "only 5 bytes of binary data remain" in short.error
    extra = echo.post("/v2/models/testapp/infer", json.dumps(WORD).encode() + b"junk",
                      {"Inference-Header-Content-Length": str(len(json.dumps(WORD)))})
    assert extra.status == 400 and "4 bytes of binary data" in extra.error
    beyond = echo.post("/v2/models/testapp/infer", b"{}", {"Inference-Header-Content-Length": "99"})
    assert beyond.status == 400 and "holds only 2 bytes" in beyond.error


def test_unknown_model_is_404_and_a_failing_predictor_500_and_serving_goes_on(echo: HttpServe) -> None:
    other = echo.post("/v2/models/mnist/infer", {"no": "inputs"})
    assert other.status == 404 and "'mnist' is not served here" in other.error
    boom = echo.post("/v2/models/testapp/infer", infer_body("BYTES", [1], ["boom"]))
    assert boom.status == 500
    assert boom.error == "predictor raised RuntimeError: the model exploded"
    assert echo.post("/v2/models/testapp/infer", WORD).status == 200


def test_routes_verbs_and_limits(echo: HttpServe) -> None:
    missing = echo.get("/v3/nothing")
    assert missing.status == 404 and "/openapi.json" in missing.error
    wrong_verb = echo.get("/v2/models/testapp/infer")
    assert (wrong_verb.status, wrong_verb.headers["allow"]) == (405, "POST")
    too_large = echo.post("/v2/models/testapp/infer", b"x" * (1024 * 1024 + 1))
    assert too_large.status == 413 and "--max-message-mb" in too_large.error
    encoded = echo.post("/v2/models/testapp/infer", b"{}", {"Content-Encoding": "br"})
    assert encoded.status == 415
    long_head = echo.call("GET", "/v2/health/live", headers={"X-Padding": "a" * 70000})
    assert long_head.status == 431 and "headers are over 65536 bytes" in long_head.error
    document = echo.get("/openapi.json").json()
    assert {"/v2/models/{name}/infer", "/kanri/v1/predict", "/openapi.json"} <= set(document["paths"])


# --- kanri's Predict in JSON ---------------------------------------------------------------------

def test_predict_in_json(echo: HttpServe) -> None:
    answer = echo.post("/kanri/v1/predict", {"input": "hi", "option": {"depth": [1, "two", None]}, "request_id": "r-9"})
    assert answer.json() == {"output": "one:hi", "scores": [1.0], "option": {"depth": [1.0, "two", None]},
                             "model_version": "1", "request_id": "r-9"}
    assert echo.post("/kanri/v1/predict", {"input": [1, 2]}).error == "input must be str, got list[int]"
    assert echo.post("/kanri/v1/predict", {"input": {"a": 1}}).error == "input must be str (a string), got an object"
    assert 'has no "input"' in echo.post("/kanri/v1/predict", {"inputs": "x"}).error
    infinite = echo.post("/kanri/v1/predict", b'{"input": "x", "option": {"k": 1e999}}')
    assert infinite.status == 400 and "Out of range float values" in infinite.error
    assert echo.post("/kanri/v1/predict", {"input": "boom"}).status == 500
    info = echo.get("/kanri/v1/info").json()
    assert (info["app"], info["model_version"], info["input_type"]) == ("testapp", "1", "str")


def test_predict_in_json_for_lists_and_bytes(typed: dict[str, HttpServe]) -> None:
    ints = typed["Ints"].post("/kanri/v1/predict", {"input": [3, 1, 2]}).json()
    assert (ints["output"], ints["scores"], ints["model_version"]) == ([1, 2, 3], [3.0], "7")
    assert typed["Ints"].post("/kanri/v1/predict", {"input": [1.5]}).error == "input must be list[int], got list[float]"
    assert typed["Floats"].post("/kanri/v1/predict", {"input": [1, 0.5]}).json()["output"] == [2.0, 1.0]
    raw = bytes([0, 255, 97])
    answer = typed["Bytes"].post("/kanri/v1/predict", {"input": base64.b64encode(raw).decode()}).json()
    assert base64.b64decode(answer["output"]) == raw[::-1]
    assert "base64" in typed["Bytes"].post("/kanri/v1/predict", {"input": "not base64!"}).error


# --- the connection -------------------------------------------------------------------------------

def test_keep_alive_and_pipelining_answer_in_order(echo: HttpServe) -> None:
    requests = b"".join(b"POST /kanri/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(body), body) for body in (b'{"input": "sleep:0.2"}', b'{"input": "b"}'))
    received = exchange(echo, requests + b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n", answers=3)
    assert received.count(b"HTTP/1.1 200 OK") == 3
    assert received.index(b"one:sleep:0.2") < received.index(b"one:b") < received.index(b'{"live":true}')


def test_chunked_gzip_deflate_and_expect_continue(echo: HttpServe) -> None:
    body = json.dumps(WORD).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    received = exchange(echo, b"POST /v2/models/testapp/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                              b"\r\n" + chunked)
    assert b"200 OK" in received and b"one:x" in received
    for encoding, packed in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        answer = echo.post("/v2/models/testapp/infer", packed, {"Content-Encoding": encoding})
        assert answer.status == 200, (encoding, answer.body)
    broken = echo.post("/v2/models/testapp/infer", b"not gzip", {"Content-Encoding": "gzip"})
    assert broken.status == 400 and "cannot inflate" in broken.error
    with socket.create_connection(("127.0.0.1", echo.http_port), timeout=10) as sock:
        sock.sendall(b"POST /v2/models/testapp/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert b"200 OK" in sock.recv(65536)


def test_malformed_http_is_400_and_closed(echo: HttpServe) -> None:
    received = exchange(echo, b"GARBAGE / HTTP/1.1\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 400 Bad Request") and b"connection: close" in received
    assert echo.get("/v2/health/live").status == 200


def test_an_upgrade_is_answered_over_http_1_1_then_closed(echo: HttpServe) -> None:
    received = exchange(echo, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                              b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in received


def test_the_http_port_is_its_own(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HTTP port 8080 must differ"):
        ServerSettings(predictor="m:P", port=8080, http_port=8080)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "kanri.serving", "serve", "--predictor", f"{PREDICTORS}:Echo",
                               "--port", str(free_port()), "--http-port", str(port), "--model-store", str(tmp_path)],
                              capture_output=True, text=True, timeout=60, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    assert f"cannot listen for HTTP on 127.0.0.1:{port}: Address already in use" in done.stderr


# --- what HTTP shares with gRPC ------------------------------------------------------------------

def test_metrics_and_request_logs_name_the_http_method(echo: HttpServe) -> None:
    echo.post("/v2/models/testapp/infer", infer_body("BYTES", [1], ["logged"], id="http-req-1"))
    echo.post("/kanri/v1/predict", {"input": "bad", "request_id": "http-req-2"})
    text = metrics(echo)
    assert ('kanri_requests_total{app="testapp",code="OK",method="HTTP ModelInfer",model_version="1",'
            'service="testapp-dev",service_level="development"}') in text
    assert 'code="INVALID_ARGUMENT",method="HTTP Predict",model_version="1"' in text
    assert 'kanri_request_duration_seconds_bucket{app="testapp",le="0.0005",method="HTTP ModelInfer"' in text
    lines = {line["request_id"]: line for line in request_lines(echo)}
    assert (lines["http-req-1"]["method"], lines["http-req-1"]["code"]) == ("HTTP ModelInfer", "OK")
    assert (lines["http-req-2"]["method"], lines["http-req-2"]["code"]) == ("HTTP Predict", "INVALID_ARGUMENT")
    assert lines["http-req-2"]["message"] == "'bad' is not a word this model knows"


def test_a_hot_swap_reaches_http(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_http_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--model-version", "1")
    try:
        assert server.post("/kanri/v1/predict", {"input": "x"}).json()["output"] == "one:x"
        with Client(server.process.target) as client:
            client.switch_model(str(echo_models["v2"]), model_version="2")
        answer = server.post("/v2/models/testapp/infer", WORD).json()
        assert (answer["model_version"], answer["outputs"][0]["data"]) == ("2", ["two:x"])
        assert server.get("/v2/models/testapp/versions/1").status == 404
        assert server.get("/v2/models/testapp/versions/2").json()["versions"] == ["2"]
    finally:
        server.process.stop()


def test_without_a_model_ready_is_503_and_infer_says_why(tmp_path: Path) -> None:
    server = start_http_serve(tmp_path, f"{PREDICTORS}:Echo", None, wait=False)
    try:
        server.process.wait_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        assert (server.get("/v2/health/ready").status, server.get("/v2/health/ready").json()) == (503, {"ready": False})
        assert server.get("/v2/models/testapp/ready").status == 503
        answer = server.post("/v2/models/testapp/infer", WORD)
        assert answer.status == 503 and "no model is loaded" in answer.error
    finally:
        server.process.stop()

