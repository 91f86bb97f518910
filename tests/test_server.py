"""The kanri API of a real `kanri serve` process: answers, errors, admin, metrics, logs, health."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from kanri.serving.client import Client, ServingError
from kanri.serving.predictor import load_predictor_class
from tests.support.servers import PREDICTORS, ROOT, ServeProcess, health_status, start_serve


def metrics_text(server: ServeProcess) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).read().decode()


def log_lines(server: ServeProcess) -> list[dict]:
    return [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]


def test_predict_answers_label_scores_option_and_version(echo_server: ServeProcess) -> None:
    with Client(echo_server.target) as client:
        answer = client.predict("hi", option={"depth": {"list": [1, "two", None, True]}}, request_id="r-1")
    assert answer.label == "one:hi"
    assert answer.scores == [1.0]
    assert answer.option == {"depth": {"list": [1.0, "two", None, True]}}
    assert answer.model_version == "1"
    assert answer.request_id == "r-1"


def test_digits_predicts_what_the_model_predicts(digits_server: ServeProcess, digits_models: dict[str, Path]) -> None:
    examples = [json.loads(line) for line in digits_models["digits-test.jsonl"].read_text().splitlines()[:50]]
    local = load_predictor_class(f"{ROOT}/examples/digits/predictor.py:Digits")()
    local.load_model(str(digits_models["digits-v1.skops"]))
    with Client(digits_server.target) as client:
        answers = [client.predict(e["input"]) for e in examples]
    assert [a.label for a in answers] == [local.predict(e["input"], {}).label for e in examples]
    assert sum(a.label == e["label"] for a, e in zip(answers, examples, strict=True)) >= 40
    assert all(len(a.scores) == 10 and abs(sum(a.scores) - 1) < 1e-6 for a in answers)


def test_stream_answers_in_order(digits_server: ServeProcess, digits_models: dict[str, Path]) -> None:
    examples = [json.loads(line) for line in digits_models["digits-test.jsonl"].read_text().splitlines()[:200]]
    with Client(digits_server.target) as client:
        single = [client.predict(e["input"]).label for e in examples]
        streamed = [a.label for a in client.predict_stream(e["input"] for e in examples)]
    assert streamed == single


def test_info_describes_service_and_model(echo_server: ServeProcess, echo_models: dict[str, Path]) -> None:
    with Client(echo_server.target) as client:
        info = client.info()
    assert info["app"] == "testapp" and info["service"] == "testapp-dev"
    assert info["service_level"] == "development"
    assert info["model_version"] == "1" and info["model_format"] == "file"
    assert info["input_type"] == "str" and info["output_type"] == "str"
    assert len(info["model_sha256"]) == 64 and info["uptime_seconds"] > 0


@pytest.mark.parametrize(("sent", "message"), [
    ([1, 2, 3], "input must be str, got list[int]"),
    (b"raw", "input must be str, got bytes"),
])
def test_wrong_input_type_is_invalid_argument(echo_server: ServeProcess, sent: object, message: str) -> None:
    with Client(echo_server.target) as client, pytest.raises(ServingError) as error:
        client.predict(sent)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.message


def test_predictor_errors_keep_the_server_serving(echo_server: ServeProcess) -> None:
    with Client(echo_server.target) as client:
        with pytest.raises(ServingError) as crash:
            client.predict("boom")
        with pytest.raises(ServingError) as refused:
            client.predict("bad")
        assert client.predict("still here").label == "one:still here"
    assert crash.value.code == grpc.StatusCode.INTERNAL
    assert "RuntimeError: the model exploded" in crash.value.message
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "'bad' is not a word" in refused.value.message


def test_digits_refuses_a_short_image(digits_server: ServeProcess) -> None:
    with Client(digits_server.target) as client, pytest.raises(ServingError) as error:
        client.predict([1, 2, 3])
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "expected 64 pixel values" in error.value.message


def test_a_predictor_returning_the_wrong_type_is_internal(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:WrongOutput", str(echo_models["v1"]))
    try:
        with Client(server.target) as client, pytest.raises(ServingError) as error:
            client.predict("x")
        assert error.value.code == grpc.StatusCode.INTERNAL
        assert "predictor output label must be str" in error.value.message
    finally:
        server.stop()


def test_without_a_model_predict_is_unavailable_and_health_not_serving(tmp_path: Path,
                                                                       echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", None, wait=False)
    try:
        server.wait_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        with Client(server.target, retries=0) as client:
            with pytest.raises(ServingError) as error:
                client.predict("x")
            assert error.value.code == grpc.StatusCode.UNAVAILABLE
            assert "no model is loaded" in error.value.message
            client.switch_model(str(echo_models["v2"]), model_version="2")
            assert client.predict("x").label == "two:x"
        assert health_status(server.target) == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop()


def test_a_corrupt_initial_model_leaves_the_server_up_and_says_why(tmp_path: Path,
                                                                   echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["corrupt"]), wait=False)
    try:
        server.wait_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        errors = [line for line in log_lines(server) if line["level"] == "error"]
        assert any("model file is corrupt" in line["message"] for line in errors)
    finally:
        server.stop()


def test_health_and_reflection(echo_server: ServeProcess) -> None:
    for service in ("", "kanri.serving.v1.PredictionService", "inference.GRPCInferenceService"):
        assert health_status(echo_server.target, service) == health_pb2.HealthCheckResponse.SERVING
    with grpc.insecure_channel(echo_server.target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for answer in answers for s in answer.list_services_response.service}
    assert {"kanri.serving.v1.PredictionService", "kanri.serving.v1.AdminService",
            "inference.GRPCInferenceService", "grpc.health.v1.Health"} <= names


def test_metrics_count_requests_by_version_method_and_code(echo_server: ServeProcess) -> None:
    with Client(echo_server.target) as client:
        client.predict("count me")
        with pytest.raises(ServingError):
            client.predict("boom")
    text = metrics_text(echo_server)
    assert ('kanri_requests_total{app="testapp",code="OK",method="Predict",model_version="1",'
            'service="testapp-dev",service_level="development"}') in text
    assert 'code="INTERNAL",method="Predict",model_version="1"' in text
    assert "kanri_request_duration_seconds_bucket" in text
    assert "kanri_requests_in_flight" in text
    assert 'kanri_model_info{app="testapp",format="file",model_version="1"' in text
    assert "kanri_model_load_seconds" in text
    assert "kanri_process_cpu_seconds" in text and "kanri_process_resident_memory_bytes" in text
    # No GPU on the test machines: GPU metrics are absent rather than zero.
    assert "kanri_gpu_utilization_ratio" not in text


def test_request_logs_are_json_lines_with_identity(echo_server: ServeProcess) -> None:
    with Client(echo_server.target) as client:
        client.predict("log me", request_id="req-42")
    lines = [line for line in log_lines(echo_server) if line.get("request_id") == "req-42"]
    assert len(lines) == 1
    line = lines[0]
    for key in ("@timestamp", "level", "app", "service", "service_level", "model_version", "pod", "method",
                "latency_ms", "code", "message"):
        assert key in line, key
    assert (line["method"], line["code"], line["model_version"]) == ("Predict", "OK", "1")


def test_request_logs_can_be_turned_off(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--request-log-sample", "0")
    try:
        with Client(server.target) as client:
            for _ in range(20):
                client.predict("quiet")
        assert not [line for line in log_lines(server) if line.get("method") == "Predict"]
        assert 'method="Predict"' in metrics_text(server)
    finally:
        server.stop()


def test_admin_calls_need_the_token_when_one_is_set(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), env={"KANRI_ADMIN_TOKEN": "s3cret"})
    try:
        for token in (None, "wrong"):
            with Client(server.target, admin_token=token) as client, pytest.raises(ServingError) as error:
                client.switch_model(str(echo_models["v2"]))
            assert error.value.code == grpc.StatusCode.UNAUTHENTICATED
        with Client(server.target, admin_token="s3cret") as client:
            assert client.predict("x").label == "one:x"  # predictions need no admin token
            client.switch_model(str(echo_models["v2"]), model_version="2")
            assert client.predict("x").label == "two:x"
    finally:
        server.stop()


def test_failed_switches_leave_the_old_model_serving(echo_server: ServeProcess, echo_models: dict[str, Path],
                                                     tmp_path: Path) -> None:
    with Client(echo_server.target) as client:
        cases = [
            ((str(echo_models["v2"]), "0" * 64), grpc.StatusCode.FAILED_PRECONDITION, "checksum mismatch"),
            ((str(tmp_path / "missing.txt"), None), grpc.StatusCode.NOT_FOUND, "does not exist"),
            ((str(echo_models["corrupt"]), None), grpc.StatusCode.FAILED_PRECONDITION, "model file is corrupt"),
        ]
        for (uri, sha), code, message in cases:
            with pytest.raises(ServingError) as error:
                client.switch_model(uri, sha256=sha)
            assert error.value.code == code
            assert message in error.value.message
            assert client.predict("x").label == "one:x"
            assert client.info()["model_version"] == "1"


def test_upload_stores_by_digest_then_activates(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--model-version", "1")
    try:
        with Client(server.target) as client:
            first = client.upload_model(echo_models["v2"])
            again = client.upload_model(echo_models["v2"], activate=True, model_version="2")
            assert first["model_uri"] == again["model_uri"]
            assert first["model_uri"].endswith(f"/sha256/{first['sha256']}.txt")
            assert again["switched"]["previous_model_version"] == "1"
            assert again["switched"]["info"]["model_version"] == "2"
            assert client.predict("x").label == "two:x"
        stored = list((tmp_path / "store" / "sha256").iterdir())
        assert [p.name for p in stored] == [f"{first['sha256']}.txt"]
    finally:
        server.stop()


def test_evaluate_reports_metrics_confusion_and_details(digits_server: ServeProcess,
                                                        digits_models: dict[str, Path]) -> None:
    examples = [json.loads(line) for line in digits_models["digits-test.jsonl"].read_text().splitlines()]
    with Client(digits_server.target) as client:
        result = client.evaluate([(e["input"], e["label"]) for e in examples], return_details=True)
    assert result.count == len(examples)
    assert result.accuracy > 0.9
    assert result.labels == [str(d) for d in range(10)]
    assert sum(map(sum, result.confusion_matrix)) == len(examples)
    diagonal = sum(result.confusion_matrix[i][i] for i in range(10))
    assert diagonal / len(examples) == pytest.approx(result.accuracy)
    assert {m["label"] for m in result.per_label} == set(result.labels)
    assert len(result.details) == len(examples)
    assert sum(d["correct"] for d in result.details) == diagonal
    assert result.model_version == "1"


def test_messages_over_the_limit_are_refused(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--max-message-mb", "1")
    try:
        with Client(server.target) as client:
            with pytest.raises(ServingError) as error:
                client.predict("x" * (2 * 1024 * 1024))
            assert error.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert client.predict("x" * 1000).label.endswith("x")
    finally:
        server.stop()


def test_an_undecodable_stream_message_ends_the_stream_invalid_argument(echo_server: ServeProcess) -> None:
    from kanri.serving._pb import serving_pb2 as pb

    good = pb.PredictRequest(input=pb.Value(str="first")).SerializeToString()
    with grpc.insecure_channel(echo_server.target) as channel:
        stream = channel.stream_stream("/kanri.serving.v1.PredictionService/PredictStream")
        answers = stream(iter([good, b"\xff\xff\xff"]), timeout=10)
        first = pb.PredictResponse.FromString(next(answers))
        with pytest.raises(grpc.RpcError) as error:
            next(answers)
    assert first.output.str == "one:first"
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid kanri.serving.v1.PredictRequest" in error.value.details()
