"""Who may predict (serving.auth): a `kanri serve` that asks for the bearer token or a JWT refuses every other
caller over gRPC and HTTP, lets the right ones through, and leaves health, readiness and metadata open."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kanri.serving._pb import open_inference_pb2 as oip
from kanri.serving._pb import open_inference_pb2_grpc as oip_grpc
from kanri.serving.client import Client, ServingError
from tests.support.http_calls import HttpServe, start_http_serve
from tests.support.servers import PREDICTORS, ROOT, health_status

TOKEN = "s3cret-predict-token"
ISSUER, AUDIENCE = "https://issuer.kanri.test", "testapp"


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The service's signing key, and another one that signs with the same key id."""
    return (rsa.generate_private_key(public_exponent=65537, key_size=2048),
            rsa.generate_private_key(public_exponent=65537, key_size=2048))


def token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "caller", "iat": now, "exp": now + 300, **claims},
                      key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, echo_models: dict[str, Path],
           keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> Iterator[HttpServe]:
    tmp = tmp_path_factory.mktemp("auth")
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys[0].public_key()))
    (tmp / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    served = start_http_serve(tmp, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--jwt-keys", str(tmp / "jwks.json"),
                              "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE,
                              env={"KANRI_PREDICT_TOKEN": TOKEN})
    try:
        yield served
    finally:
        served.process.stop()


def refusals(keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> dict[str, tuple[str | None, str]]:
    """case → (the bearer credential, or None for no header; what the refusal says)."""
    return {
        "no token": (None, "none was given"),
        "a wrong token": ("guess", "the token is not valid"),
        "an expired JWT": (token(keys[0], exp=int(time.time()) - 60), "the token has expired"),
        "a JWT for another audience": (token(keys[0], aud="other-app"), "not for this service"),
        "a JWT of another issuer": (token(keys[0], iss="https://elsewhere.test"), "not issued by"),
        "a JWT signed by another key": (token(keys[1]), "the token is not valid"),
        "a JWT without expiry": (jwt.encode({"iss": ISSUER, "aud": AUDIENCE}, keys[0], algorithm="RS256",
                                            headers={"kid": "k1"}), "exp"),
    }


def test_grpc_predictions_refuse_every_caller_but_the_right_ones(
        server: HttpServe, keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> None:
    for case, (credential, says) in refusals(keys).items():
        with Client(server.process.target, token=credential or "", retries=0) as client, \
                pytest.raises(ServingError) as refused:
            client.predict("x")
        assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED, case
        assert says in refused.value.message, (case, refused.value.message)
    for credential in (TOKEN, token(keys[0])):
        with Client(server.process.target, token=credential) as client:
            assert client.predict("x").label == "one:x"
            assert [p.label for p in client.predict_stream(["a", "b"])] == ["one:a", "one:b"]


def test_grpc_streams_and_open_inference_calls_are_checked_too(server: HttpServe) -> None:
    with Client(server.process.target, token="", retries=0) as client, pytest.raises(ServingError) as refused:
        list(client.predict_stream(["a"]))
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    request = oip.ModelInferRequest(model_name="testapp", inputs=[oip.ModelInferRequest.InferInputTensor(
        name="input", datatype="BYTES", shape=[1], contents=oip.InferTensorContents(bytes_contents=[b"x"]))])
    with grpc.insecure_channel(server.process.target) as channel:
        stub = oip_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused_infer:
            stub.ModelInfer(request, timeout=10)
        assert refused_infer.value.code() == grpc.StatusCode.UNAUTHENTICATED
        answer = stub.ModelInfer(request, timeout=10, metadata=(("authorization", f"Bearer {TOKEN}"),))
        assert answer.model_name == "testapp"
        assert stub.ServerReady(oip.ServerReadyRequest(), timeout=10).ready  # readiness stays open
        assert stub.ModelMetadata(oip.ModelMetadataRequest(name="testapp"), timeout=10).name == "testapp"
    assert health_status(server.process.target) == 1  # SERVING, asked without a token


def test_http_predictions_answer_401_with_a_bearer_challenge(
        server: HttpServe, keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> None:
    infer = {"inputs": [{"name": "input", "datatype": "BYTES", "shape": [1], "data": ["x"]}]}
    for path, body in (("/kanri/v1/predict", {"input": "x"}), ("/v2/models/testapp/infer", infer)):
        for case, (credential, says) in refusals(keys).items():
            headers = {} if credential is None else {"Authorization": f"Bearer {credential}"}
            answer = server.post(path, body, headers)
            assert answer.status == 401, (path, case, answer)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert says in answer.error, (path, case, answer.error)
        assert server.post(path, body, {"Authorization": "Basic dXNlcg=="}).status == 401
        for credential in (TOKEN, token(keys[0])):
            assert server.post(path, body, {"Authorization": f"Bearer {credential}"}).status == 200, path
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/testapp", "/v2"):
        assert server.get(path).status == 200, path


def test_the_openapi_document_names_the_bearer_scheme_on_predictions_only(server: HttpServe) -> None:
    document = server.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    guarded = {(path, verb) for path, verbs in document["paths"].items() for verb, operation in verbs.items()
               if operation.get("security") == [{"bearer": []}] and "401" in operation["responses"]}
    assert guarded == {("/kanri/v1/predict", "post"), ("/v2/models/{name}/infer", "post"),
                       ("/v2/models/{name}/versions/{version}/infer", "post")}


@pytest.mark.parametrize(("options", "message"), [
    (["--jwt-keys", "missing.json", "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE],
     "cannot read the JWT keys in missing.json"),
    (["--jwt-keys", "missing.json"], "needs --jwt-issuer and --jwt-audience"),
])
def test_a_jwt_check_that_cannot_work_stops_the_start_with_one_line(tmp_path: Path, options: list[str],
                                                                      message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "kanri.serving", "serve", "--predictor", f"{PREDICTORS}:Echo",
                           "--model-store", str(tmp_path), *options], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
