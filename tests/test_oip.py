"""The Open Inference Protocol service, driven by the unmodified tritonclient.grpc client.

tritonclient registers its own ``inference`` protobuf package in the default
descriptor pool, which collides with serving/_pb/open_inference_pb2, so every
call goes through tests/support/triton_calls.py in a subprocess; this process
never imports tritonclient. (kanri's own generated messages are fine here, for
requests tritonclient cannot make.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import skops.io as sio

from kanri.serving import __version__
from kanri.serving._pb import open_inference_pb2 as oip
from tests.support.servers import PREDICTORS, ROOT, ServeProcess, start_serve

TRITON_CALLS = ROOT / "tests" / "support" / "triton_calls.py"

OPTION_PREDICTOR = '''
import json

from kanri.serving.predictor import PredictInterface, PredictResult


class OptionLabel(PredictInterface):
    """str -> str: the label is the option dict the predictor received, as JSON; the answer's
    option names the input, so the inputs of one request get different options."""

    input_type = str
    output_type = str

    def load_model(self, model_path: str) -> None:
        pass

    def predict(self, input: str, option: dict) -> PredictResult:
        return PredictResult(json.dumps(option, sort_keys=True), [1.0], {"input": input})
'''


def triton(target: str, *calls: dict[str, Any]) -> list[dict[str, Any]]:
    """Run calls with tritonclient.grpc in a subprocess; one result per call."""
    done = subprocess.run([sys.executable, str(TRITON_CALLS), target, json.dumps(list(calls))],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) == len(calls)
    return results


def ok(result: dict[str, Any]) -> Any:
    assert "ok" in result, result
    return result["ok"]


def error(result: dict[str, Any], status: str) -> str:
    assert "error" in result, result
    assert result["error"]["status"] == f"StatusCode.{status}", result
    assert result["error"]["message"], result
    return result["error"]["message"]


def infer(model: str, inputs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"op": "infer", "model": model, "inputs": inputs, **extra}


class HexData(list):
    """BYTES elements given as hex strings (raw bytes, not text)."""


def tensor(datatype: str, shape: list[int], data: Any, name: str = "input") -> dict[str, Any]:
    if isinstance(data, HexData):
        return {"name": name, "datatype": datatype, "shape": shape, "hex": list(data)}
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def texts(output: dict[str, Any]) -> Any:
    """BYTES output data (hex strings, nested) as UTF-8 text."""
    data = output["data"]
    if isinstance(data, list):
        return [texts({"data": item}) for item in data]
    return bytes.fromhex(data).decode("utf-8")


# --- digits: the example model ---------------------------------------------------------------

@pytest.fixture(scope="module")
def digits_sklearn(digits_models: dict[str, Path]) -> Any:
    path = digits_models["digits-v1.skops"]
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


@pytest.fixture(scope="module")
def held_out(digits_models: dict[str, Path]) -> list[list[int]]:
    lines = digits_models["digits-test.jsonl"].read_text().splitlines()
    return [json.loads(line)["input"] for line in lines[:16]]


def test_this_process_never_imports_tritonclient() -> None:
    assert not any(name.split(".")[0] == "tritonclient" for name in sys.modules)


def test_server_live_ready_and_metadata(digits_server: ServeProcess) -> None:
    live, ready, meta = triton(digits_server.target, {"op": "is_server_live"}, {"op": "is_server_ready"},
                               {"op": "get_server_metadata"})
    assert ok(live) is True
    assert ok(ready) is True
    assert ok(meta) == {"name": "kanri", "version": __version__, "extensions": []}


def test_model_ready_only_for_the_served_model_and_version(digits_server: ServeProcess) -> None:
    results = triton(digits_server.target,
                     {"op": "is_model_ready", "name": "digits"},
                     {"op": "is_model_ready", "name": "digits", "version": "1"},
                     {"op": "is_model_ready", "name": "other"},
                     {"op": "is_model_ready", "name": "digits", "version": "2"},
                     {"op": "is_model_ready", "name": ""})
    assert [ok(r) for r in results] == [True, True, False, False, False]


def test_model_metadata(digits_server: ServeProcess) -> None:
    meta, versioned, other, wrong_version = triton(
        digits_server.target, {"op": "get_model_metadata", "name": "digits"},
        {"op": "get_model_metadata", "name": "digits", "version": "1"},
        {"op": "get_model_metadata", "name": "other"},
        {"op": "get_model_metadata", "name": "digits", "version": "2"})
    assert ok(meta) == {
        "name": "digits", "versions": ["1"], "platform": "kanri",
        "inputs": [{"name": "input", "datatype": "INT64", "shape": [-1, -1]}],
        "outputs": [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                    {"name": "scores", "datatype": "FP64", "shape": [-1, -1]}],
    }
    assert ok(versioned) == ok(meta)
    assert "other" in error(other, "NOT_FOUND")
    assert "'2'" in error(wrong_version, "NOT_FOUND")


def test_infer_one_digit_matches_sklearn(digits_server: ServeProcess, digits_sklearn: Any,
                                         held_out: list[list[int]]) -> None:
    image = held_out[0]
    (result,) = triton(digits_server.target,
                       infer("digits", [tensor("INT64", [1, 64], [image])], request_id="req-7"))
    answer = ok(result)
    assert answer["model_name"] == "digits"
    assert answer["model_version"] == "1"
    assert answer["id"] == "req-7"
    assert list(answer["outputs"]) == ["label", "scores"]
    label, scores = answer["outputs"]["label"], answer["outputs"]["scores"]
    assert (label["datatype"], label["shape"]) == ("BYTES", [1])
    assert texts(label) == [str(digits_sklearn.predict([image])[0])]
    assert (scores["datatype"], scores["shape"]) == ("FP64", [1, 10])
    np.testing.assert_allclose(scores["data"], digits_sklearn.predict_proba([image]), atol=1e-9)


def test_infer_a_batch(digits_server: ServeProcess, digits_sklearn: Any, held_out: list[list[int]]) -> None:
    (result,) = triton(digits_server.target, infer("digits", [tensor("INT64", [len(held_out), 64], held_out)]))
    answer = ok(result)
    assert answer["outputs"]["label"]["shape"] == [len(held_out)]
    assert texts(answer["outputs"]["label"]) == [str(d) for d in digits_sklearn.predict(held_out)]
    assert answer["outputs"]["scores"]["shape"] == [len(held_out), 10]
    np.testing.assert_allclose(answer["outputs"]["scores"]["data"], digits_sklearn.predict_proba(held_out), atol=1e-9)


def test_int32_input_is_accepted(digits_server: ServeProcess, digits_sklearn: Any,
                                 held_out: list[list[int]]) -> None:
    int32, uint8 = triton(digits_server.target, infer("digits", [tensor("INT32", [2, 64], held_out[:2])]),
                          infer("digits", [tensor("UINT8", [2, 64], held_out[:2])]))
    expected = [str(d) for d in digits_sklearn.predict(held_out[:2])]
    assert texts(ok(int32)["outputs"]["label"]) == expected
    assert texts(ok(uint8)["outputs"]["label"]) == expected


def test_float_input_is_refused_for_an_int_model(digits_server: ServeProcess, held_out: list[list[int]]) -> None:
    fp32, fp64 = triton(digits_server.target, infer("digits", [tensor("FP32", [1, 64], held_out[:1])]),
                        infer("digits", [tensor("FP64", [1, 64], held_out[:1])]))
    assert "FP32" in error(fp32, "INVALID_ARGUMENT")
    assert "FP64" in error(fp64, "INVALID_ARGUMENT")


def test_unknown_model_or_version_is_not_found(digits_server: ServeProcess, held_out: list[list[int]]) -> None:
    other, version = triton(digits_server.target, infer("mnist", [tensor("INT64", [1, 64], held_out[:1])]),
                            infer("digits", [tensor("INT64", [1, 64], held_out[:1])], version="9"))
    assert "mnist" in error(other, "NOT_FOUND")
    assert "'9'" in error(version, "NOT_FOUND")


def test_predictor_refusal_is_invalid_argument(digits_server: ServeProcess) -> None:
    short, out_of_range = triton(digits_server.target, infer("digits", [tensor("INT64", [1, 63], [[0] * 63])]),
                                 infer("digits", [tensor("INT64", [1, 64], [[17] * 64])]))
    assert "expected 64 pixel values" in error(short, "INVALID_ARGUMENT")
    assert "0..16" in error(out_of_range, "INVALID_ARGUMENT")


def test_requested_outputs(digits_server: ServeProcess, digits_sklearn: Any, held_out: list[list[int]]) -> None:
    image = [tensor("INT64", [1, 64], held_out[:1])]
    scores_only, label_only, unknown = triton(
        digits_server.target, infer("digits", image, outputs=["scores"]), infer("digits", image, outputs=["label"]),
        infer("digits", image, outputs=["scores", "probabilities"]))
    assert list(ok(scores_only)["outputs"]) == ["scores"]
    np.testing.assert_allclose(ok(scores_only)["outputs"]["scores"]["data"],
                               digits_sklearn.predict_proba(held_out[:1]), atol=1e-9)
    assert list(ok(label_only)["outputs"]) == ["label"]
    assert "probabilities" in error(unknown, "INVALID_ARGUMENT")


# --- every value type --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def typed_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServeProcess]]:
    """One server per predictor type (started together), plus one whose label is its option."""
    folder = tmp_path_factory.mktemp("oip-types")
    (folder / "factor.txt").write_text("2")
    (folder / "option_predictor.py").write_text(OPTION_PREDICTOR)
    predictors = {name: f"{PREDICTORS}:{name}" for name in ("Floats", "Bytes", "Words", "Ints")}
    predictors["OptionLabel"] = f"{folder / 'option_predictor.py'}:OptionLabel"
    servers: dict[str, ServeProcess] = {}
    try:
        for name, reference in predictors.items():
            (folder / name).mkdir()
            servers[name] = start_serve(folder / name, reference, str(folder / "factor.txt"),
                                        "--model-version", "7", wait=False)
        for server in servers.values():
            server.wait_health()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def test_str_predictor_takes_bytes_tensors(echo_server: ServeProcess) -> None:
    flat, column, bad, boom, not_utf8, ints = triton(
        echo_server.target,
        infer("testapp", [tensor("BYTES", [2], ["héllo", "wörld"])]),
        infer("testapp", [tensor("BYTES", [2, 1], [["a"], ["b"]])]),
        infer("testapp", [tensor("BYTES", [1], ["bad"])]),
        infer("testapp", [tensor("BYTES", [1], ["boom"])]),
        infer("testapp", [tensor("BYTES", [1], HexData(["ff00"]))]),
        infer("testapp", [tensor("INT64", [1], [1])]))
    answer = ok(flat)
    assert answer["model_version"] == "1"
    assert answer["outputs"]["label"]["shape"] == [2]
    assert texts(answer["outputs"]["label"]) == ["one:héllo", "one:wörld"]
    assert answer["outputs"]["scores"] == {"datatype": "FP64", "shape": [2, 1], "data": [[1.0], [1.0]]}
    assert texts(ok(column)["outputs"]["label"]) == ["one:a", "one:b"]
    assert "not a word this model knows" in error(bad, "INVALID_ARGUMENT")
    assert "the model exploded" in error(boom, "INTERNAL")
    assert "UTF-8" in error(not_utf8, "INVALID_ARGUMENT")
    assert "INT64" in error(ints, "INVALID_ARGUMENT")


def test_bytes_predictor(typed_servers: dict[str, ServeProcess]) -> None:
    (result,) = triton(typed_servers["Bytes"].target,
                       infer("testapp", [tensor("BYTES", [3], HexData(["00ff61", "", "8081"]))]))
    answer = ok(result)
    assert answer["outputs"]["label"] == {"datatype": "BYTES", "shape": [3], "data": ["61ff00", "", "8180"]}
    assert answer["outputs"]["scores"]["data"] == [[0.5], [0.5], [0.5]]


def test_list_of_str_predictor(typed_servers: dict[str, ServeProcess]) -> None:
    one, batch, empty_rows = triton(typed_servers["Words"].target,
                                    infer("testapp", [tensor("BYTES", [1, 3], [["a", "bc", "déf"]])]),
                                    infer("testapp", [tensor("BYTES", [2, 2], [["x", "y"], ["zz", ""]])]),
                                    infer("testapp", [tensor("BYTES", [2, 0], [])]))
    label = ok(one)["outputs"]["label"]
    assert (label["datatype"], label["shape"]) == ("BYTES", [1, 3])
    assert texts(label) == [["A", "BC", "DÉF"]]
    assert ok(one)["outputs"]["scores"]["data"] == [[1.0, 2.0, 3.0]]
    assert texts(ok(batch)["outputs"]["label"]) == [["X", "Y"], ["ZZ", ""]]
    assert ok(empty_rows)["outputs"]["label"]["shape"] == [2, 0]


def test_list_of_float_predictor(typed_servers: dict[str, ServeProcess]) -> None:
    fp64, fp32, int32, text = triton(typed_servers["Floats"].target,
                                     infer("testapp", [tensor("FP64", [2, 3], [[1, 2, 3], [0.25, -1, 0]])]),
                                     infer("testapp", [tensor("FP32", [1, 2], [[0.5, 1.5]])]),
                                     infer("testapp", [tensor("INT32", [2], [4, 5])]),
                                     infer("testapp", [tensor("BYTES", [1], ["1.0"])]))
    answer = ok(fp64)
    assert answer["model_version"] == "7"
    assert answer["outputs"]["label"] == {"datatype": "FP64", "shape": [2, 3], "data": [[2, 4, 6], [0.5, -2, 0]]}
    assert answer["outputs"]["scores"]["data"] == [[6.0], [-0.75]]
    assert ok(fp32)["outputs"]["label"]["data"] == [[1.0, 3.0]]
    assert ok(int32)["outputs"]["label"] == {"datatype": "FP64", "shape": [1, 2], "data": [[8.0, 10.0]]}
    assert "BYTES" in error(text, "INVALID_ARGUMENT")


def test_list_of_int_predictor(typed_servers: dict[str, ServeProcess]) -> None:
    int64, int8, fp64 = triton(typed_servers["Ints"].target,
                               infer("testapp", [tensor("INT64", [1, 4], [[3, -1, 2**40, 0]])]),
                               infer("testapp", [tensor("INT8", [2, 2], [[5, -5], [1, 0]])]),
                               infer("testapp", [tensor("FP64", [1, 2], [[1.0, 2.0]])]))
    assert ok(int64)["outputs"]["label"] == {"datatype": "INT64", "shape": [1, 4], "data": [[-1, 0, 3, 2**40]]}
    assert ok(int64)["outputs"]["scores"]["data"] == [[4.0]]
    assert ok(int8)["outputs"]["label"]["data"] == [[-5, 5], [0, 1]]
    assert "FP64" in error(fp64, "INVALID_ARGUMENT")


def test_uint64_beyond_int64_is_refused(typed_servers: dict[str, ServeProcess]) -> None:
    # list[int] travels as int64 on both APIs: a larger UINT64 is the caller's error, not the predictor's.
    big, fits = triton(typed_servers["Ints"].target, infer("testapp", [tensor("UINT64", [1, 2], [[2**64 - 1, 1]])]),
                       infer("testapp", [tensor("UINT64", [1, 2], [[2**63 - 1, 1]])]))
    assert "int64" in error(big, "INVALID_ARGUMENT")
    assert ok(fits)["outputs"]["label"]["data"] == [[1, 2**63 - 1]]


def test_non_finite_float_input_is_refused(typed_servers: dict[str, ServeProcess]) -> None:
    nan, inf = triton(typed_servers["Floats"].target, infer("testapp", [tensor("FP64", [1, 1], [[float("nan")]])]),
                      infer("testapp", [tensor("FP32", [2, 1], [[1.0], [float("inf")]])]))
    assert "finite" in error(nan, "INVALID_ARGUMENT")
    assert "finite" in error(inf, "INVALID_ARGUMENT")


def test_fp16_without_raw_contents_is_refused(typed_servers: dict[str, ServeProcess]) -> None:
    # tritonclient always sends raw contents, so this request is built with kanri's generated messages.
    tensor = oip.ModelInferRequest.InferInputTensor(name="input", datatype="FP16", shape=[1, 1])
    with grpc.insecure_channel(typed_servers["Floats"].target) as channel:
        stub = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                   request_serializer=oip.ModelInferRequest.SerializeToString,
                                   response_deserializer=oip.ModelInferResponse.FromString)
        with pytest.raises(grpc.RpcError) as refused:
            stub(oip.ModelInferRequest(model_name="testapp", inputs=[tensor]), timeout=10)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    assert "raw_input_contents" in refused.value.details()


def test_request_parameters_become_the_option(typed_servers: dict[str, ServeProcess]) -> None:
    target = typed_servers["OptionLabel"].target
    word = [tensor("BYTES", [1], ["x"])]
    nested = {"nested": {"k": [1, 2.5, None, "s"]}, "n": 4}
    plain, with_json, not_json, not_object, huge_int, none = triton(
        target,
        infer("testapp", word, parameters={"who": "kanri", "flag": True, "n": -3}),
        infer("testapp", word, parameters={"who": "kanri", "n": -3, "option": json.dumps(nested)}),
        infer("testapp", word, parameters={"option": "{not json"}),
        infer("testapp", word, parameters={"option": "[1, 2]"}),
        infer("testapp", word, parameters={"option": "1" * 5000}),
        infer("testapp", word))
    assert json.loads(texts(ok(plain)["outputs"]["label"])[0]) == {"who": "kanri", "flag": True, "n": -3}
    assert json.loads(texts(ok(with_json)["outputs"]["label"])[0]) == {"who": "kanri", **nested}
    assert "JSON object" in error(not_json, "INVALID_ARGUMENT")
    assert "JSON object" in error(not_object, "INVALID_ARGUMENT")
    assert "JSON object" in error(huge_int, "INVALID_ARGUMENT")
    assert json.loads(texts(ok(none)["outputs"]["label"])[0]) == {}


def test_answers_carry_the_predictors_option_as_parameters(echo_server: ServeProcess,
                                                           typed_servers: dict[str, ServeProcess]) -> None:
    nested = {"deep": {"k": [1, 2.5, None, "s"]}}
    sent = {"who": "kanri", "flag": True, "n": -3}  # tritonclient sends no float parameters: that one is in JSON
    word = [tensor("BYTES", [1], ["x"])]
    one, batch, plain = triton(
        echo_server.target,
        infer("testapp", word, parameters={**sent, "option": json.dumps({**nested, "r": 0.5})}),
        infer("testapp", [tensor("BYTES", [2], ["a", "b"])], parameters={"who": "kanri"}),
        infer("testapp", word))
    echoed = ok(one)["parameters"]
    assert json.loads(echoed.pop("option")) == nested
    assert echoed == {**sent, "r": 0.5}
    assert ok(batch)["parameters"] == {"who": "kanri"}
    assert ok(plain)["parameters"] == {}
    (different,) = triton(typed_servers["OptionLabel"].target, infer("testapp", [tensor("BYTES", [2], ["a", "b"])]))
    assert json.loads(ok(different)["parameters"]["options"]) == [{"input": "a"}, {"input": "b"}]
