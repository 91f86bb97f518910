"""The HTTP API through clients no one here wrote: tritonclient.http (JSON and binary tensor data),
KServe's InferenceRESTClient, and curl.

tritonclient runs in a subprocess (tests/support/triton_calls.py --http), as for
gRPC, so this process never imports it; KServe's client in a virtual environment
of its own (it pins protobuf below 7).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio

from tests.support.http_calls import HttpServe, start_http_serve
from tests.support.kserve_venv import kserve_python
from tests.support.servers import PREDICTORS, ROOT

TRITON_CALLS = ROOT / "tests" / "support" / "triton_calls.py"
KSERVE_CALLS = ROOT / "tests" / "support" / "kserve_calls.py"


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory, digits_models: dict[str, Path]) -> Iterator[HttpServe]:
    server = start_http_serve(tmp_path_factory.mktemp("http-digits"), f"{ROOT}/examples/digits/predictor.py:Digits",
                              str(digits_models["digits-v1.skops"]), "--model-version", "1", "--app", "digits")
    yield server
    server.process.stop()


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory, echo_models: dict[str, Path]) -> Iterator[HttpServe]:
    server = start_http_serve(tmp_path_factory.mktemp("http-echo"), f"{PREDICTORS}:Echo", str(echo_models["v1"]),
                              "--model-version", "1")
    yield server
    server.process.stop()


@pytest.fixture(scope="module")
def examples(digits_models: dict[str, Path]) -> tuple[list[list[int]], Any]:
    """Held-out images and the scikit-learn model that should answer them."""
    lines = digits_models["digits-test.jsonl"].read_text().splitlines()
    path = digits_models["digits-v1.skops"]
    return [json.loads(line)["input"] for line in lines[:8]], sio.load(path, trusted=sio.get_untrusted_types(file=path))


def triton(server: HttpServe, *calls: dict[str, Any]) -> list[dict[str, Any]]:
    done = subprocess.run([sys.executable, str(TRITON_CALLS), "--http", f"127.0.0.1:{server.http_port}",
                           json.dumps(list(calls))], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ok(result: dict[str, Any]) -> Any:
    assert "ok" in result, result
    return result["ok"]


def failed(result: dict[str, Any], status: int) -> str:
    assert "error" in result, result
    assert str(result["error"]["status"]) == str(status), result
    return result["error"]["message"]


def images(data: list[list[int]], datatype: str = "INT64", binary: bool = True) -> list[dict[str, Any]]:
    return [{"name": "input", "datatype": datatype, "shape": [len(data), 64], "data": data, "binary": binary}]


# --- tritonclient.http ----------------------------------------------------------------------------

def test_tritonclient_health_and_metadata(digits: HttpServe) -> None:
    live, ready, server, model, model_ready, other_ready = triton(
        digits, {"op": "is_server_live"}, {"op": "is_server_ready"}, {"op": "get_server_metadata"},
        {"op": "get_model_metadata", "name": "digits"}, {"op": "is_model_ready", "name": "digits", "version": "1"},
        {"op": "is_model_ready", "name": "mnist"})
    assert (ok(live), ok(ready), ok(model_ready), ok(other_ready)) == (True, True, True, False)
    assert ok(server)["extensions"] == ["binary_tensor_data"]
    assert ok(model)["inputs"] == [{"name": "input", "datatype": "INT64", "shape": [-1, -1]}]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_infer_matches_scikit_learn(digits: HttpServe, examples: tuple[list[list[int]], Any],
                                                  binary: bool) -> None:
    data, model = examples
    calls = [{"op": "infer", "model": "digits", "inputs": images(data, datatype, binary), "request_id": "t-1",
              "outputs": ["label", "scores"], "binary_outputs": binary} for datatype in ("INT64", "INT32", "UINT8")]
    for result in triton(digits, *calls):
        answer = ok(result)
        assert (answer["model_name"], answer["model_version"], answer["id"]) == ("digits", "1", "t-1")
        labels = [bytes.fromhex(h).decode() for h in answer["outputs"]["label"]["data"]]
        assert labels == [str(d) for d in model.predict(data)]
        np.testing.assert_allclose(answer["outputs"]["scores"]["data"], model.predict_proba(data), atol=1e-9)


def test_tritonclient_compressed_requests_and_parameters(echo: HttpServe) -> None:
    word = [{"name": "input", "datatype": "BYTES", "shape": [2], "data": ["a", "é"]}]
    results = triton(echo, *({"op": "infer", "model": "testapp", "inputs": word, "compression": c,
                              "parameters": {"who": "kanri", "n": 2}} for c in ("gzip", "deflate")))
    for result in results:
        answer = ok(result)
        assert [bytes.fromhex(h).decode() for h in answer["outputs"]["label"]["data"]] == ["one:a", "one:é"]
        assert answer["parameters"] == {"who": "kanri", "n": 2}


def test_tritonclient_sees_the_errors(digits: HttpServe, echo: HttpServe) -> None:
    unknown, floats, short = triton(
        digits, {"op": "infer", "model": "mnist", "inputs": images([[0] * 64])},
        {"op": "infer", "model": "digits", "inputs": images([[0.5] * 64], "FP32")},
        {"op": "infer", "model": "digits", "inputs": [{"name": "input", "datatype": "INT64", "shape": [1, 3],
                                                         "data": [[1, 2, 3]]}]})
    assert "'mnist' is not served here" in failed(unknown, 404)
    assert "FP32" in failed(floats, 400)
    assert "expected 64 pixel values" in failed(short, 400)
    (boom,) = triton(echo, {"op": "infer", "model": "testapp",
                            "inputs": [{"name": "input", "datatype": "BYTES", "shape": [1], "data": ["boom"]}]})
    assert failed(boom, 500) == "predictor raised RuntimeError: the model exploded"


# --- KServe's InferenceRESTClient ---------------------------------------------------------------

@pytest.mark.timeout(900)  # the first run makes KServe's virtual environment
def test_kserve_rest_client(digits: HttpServe, echo: HttpServe, examples: tuple[list[list[int]], Any]) -> None:
    try:
        python = kserve_python()
    except (RuntimeError, subprocess.SubprocessError) as exc:
        pytest.skip(f"KServe's SDK could not be installed: {exc}")
    data, model = examples

    def kserve(server: HttpServe, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = subprocess.run([str(python), str(KSERVE_CALLS), server.url, json.dumps(calls)], capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    infer = {"op": "infer", "model": "digits",
             "inputs": [{"name": "input", "datatype": "INT64", "shape": [len(data), 64], "data": data}]}
    live, ready, model_ready, other, binary, plain, unknown = kserve(digits, [
        {"op": "is_server_live"}, {"op": "is_server_ready"}, {"op": "is_model_ready", "name": "digits"},
        {"op": "is_model_ready", "name": "mnist"}, infer, {**infer, "binary": False}, {**infer, "model": "mnist"}])
    assert (ok(live), ok(ready), ok(model_ready), ok(other)) == (True, True, True, False)
    for answer in (ok(binary), ok(plain)):
        assert answer["model_name"] == "digits"
        assert answer["outputs"]["label"]["data"] == [str(d) for d in model.predict(data)]
        np.testing.assert_allclose(np.reshape(answer["outputs"]["scores"]["data"], (len(data), 10)),
                                   model.predict_proba(data), atol=1e-9)
    assert "'mnist' is not served here" in failed(unknown, 404)
    (words,) = kserve(echo, [{"op": "infer", "model": "testapp", "binary": False,
                              "inputs": [{"name": "input", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}]}])
    assert ok(words)["outputs"]["label"]["data"] == ["one:a", "one:b"]


# --- curl, as docs/http.md shows it ------------------------------------------------------------

def curl(*args: str, body: bytes | None = None) -> tuple[int, bytes]:
    """curl's answer: the status and the body."""
    done = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args], input=body,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    answer, _, status = done.stdout.rpartition(b"\n")
    return int(status), answer


def test_curl(echo: HttpServe, tmp_path: Path) -> None:
    url = echo.url
    assert curl(f"{url}/v2/health/ready") == (200, b'{"ready":true}')
    status, answer = curl("-X", "POST", f"{url}/v2/models/testapp/infer", "-H", "Content-Type: application/json",
                          "-d", '{"inputs": [{"name": "input", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]}')
    assert status == 200 and json.loads(answer)["outputs"][0]["data"] == ["one:hi"]
    status, answer = curl(f"{url}/kanri/v1/predict", "-H", "Content-Type: application/json",
                          "-d", '{"input": "hi", "option": {"k": 1}}')
    assert status == 200 and json.loads(answer)["output"] == "one:hi"
    status, answer = curl(f"{url}/kanri/v1/predict", "-d", '{"input": [1]}')
    assert (status, json.loads(answer)) == (400, {"error": "input must be str, got list[int]"})
    big = tmp_path / "big.json"  # over 1 MiB, so curl sends "Expect: 100-continue" and waits for the go-ahead
    big.write_text(json.dumps({"input": "x" * (2 * 1024 * 1024)}))
    status, answer = curl(f"{url}/kanri/v1/predict", "--data-binary", f"@{big}")
    assert status == 200 and len(json.loads(answer)["output"]) == 2 * 1024 * 1024 + 4
    status, answer = curl(f"{url}/kanri/v1/predict", "--data-binary", "@-", "-H", "Content-Encoding: gzip",
                          body=subprocess.run(["gzip", "-c"], input=b'{"input": "zipped"}', capture_output=True,
                                              check=True).stdout)
    assert status == 200 and json.loads(answer)["output"] == "one:zipped"
