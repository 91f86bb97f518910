"""Property-based fuzzing of a running `kanri serve`: random and malformed messages to every unary method.

Each call must answer a gRPC status the runtime means to give (OK, INVALID_ARGUMENT,
NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE, INTERNAL with a message; UNAUTHENTICATED
for admin calls without the token), never UNKNOWN (bytes that do not parse as the request
message are INVALID_ARGUMENT); INTERNAL only from a predictor's
failure, never from an exception escaping the runtime. Afterwards the servers are alive,
SERVING, on their first model, and still predict. The admin token is set on the Echo server, so SwitchModel
fuzzing with the token only ever names artifacts that do not exist or cannot load.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import message_factory
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from kanri.serving._pb import open_inference_pb2 as oip
from kanri.serving._pb import serving_pb2 as pb
from tests.support.servers import PREDICTORS, ServeProcess, health_status, start_serve

TOKEN = "fuzz-admin-token"
WITH_TOKEN = (("authorization", f"Bearer {TOKEN}"),)
WRONG_TOKEN = (("authorization", "Bearer not-the-token"),)
AUTH = {"none": None, "wrong": WRONG_TOKEN, "token": WITH_TOKEN}

C = grpc.StatusCode
ANSWERS = {C.OK, C.INVALID_ARGUMENT, C.NOT_FOUND, C.FAILED_PRECONDITION, C.UNAVAILABLE, C.INTERNAL}
SWITCH = "/kanri.serving.v1.AdminService/SwitchModel"
PREDICT = "/kanri.serving.v1.PredictionService/Predict"
INFER = "/inference.GRPCInferenceService/ModelInfer"
APPS = {"echo": "testapp", "digits": "digits"}
UNEXPECTED = re.compile(r"^\w+(Error|Exception): ")
DATATYPES = ["BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
             "FP16", "FP32", "FP64", "BYTES"]


def unary_methods() -> dict[str, type[Message]]:
    """Every unary method the server has, by path, with its request message class."""
    methods = {}
    for module in (pb, oip):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                if not (method.client_streaming or method.server_streaming):
                    methods[f"/{service.full_name}/{method.name}"] = message_factory.GetMessageClass(method.input_type)
    return methods


UNARY = unary_methods()
SEEN: Counter[grpc.StatusCode] = Counter()  # the answers of the running property, to check the fuzz's reach
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, echo_models: dict[str, Path],
            digits_server: ServeProcess) -> Iterator[dict[str, ServeProcess]]:
    echo = start_serve(tmp_path_factory.mktemp("fuzz-echo"), f"{PREDICTORS}:Echo", str(echo_models["v1"]),
                       "--model-version", "1", env={"KANRI_ADMIN_TOKEN": TOKEN})
    yield {"echo": echo, "digits": digits_server}
    echo.stop()


@pytest.fixture(scope="module")
def channels(servers: dict[str, ServeProcess]) -> Iterator[dict[str, grpc.Channel]]:
    opened = {name: grpc.insecure_channel(server.target) for name, server in servers.items()}
    yield opened
    for channel in opened.values():
        channel.close()


def call(channel: grpc.Channel, method: str, payload: bytes,
         metadata: Any = None) -> tuple[grpc.StatusCode, str, bytes | None]:
    stub = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    try:
        return C.OK, "", stub(payload, timeout=10, metadata=metadata)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or "", None


def check_answer(server: ServeProcess, code: grpc.StatusCode, details: str, allowed: set = ANSWERS) -> None:
    SEEN[code] += 1
    assert code in allowed, f"{code.name}: {details}"
    if code is not C.OK:
        assert details.strip(), f"{code.name} without a message"
    # INTERNAL is for a predictor's failure (PredictorFailed); an exception escaping the runtime's own
    # code is reported by serving.rpc.failure as "<ExceptionType>: message", and is a runtime bug.
    assert not (code is C.INTERNAL and UNEXPECTED.match(details)), f"unexpected exception in the runtime: {details}"
    if code is C.UNAVAILABLE:  # the server's own UNAVAILABLE, not a dead process
        assert server.process.poll() is None, server.logs()[-3000:]


def assert_reached(*codes: grpc.StatusCode) -> None:
    """The property got each of these answers at least once: the fuzz reaches past the first checks."""
    missing = [code.name for code in codes if code not in SEEN]
    assert not missing, f"never answered {missing}; answers: {dict(SEEN)}"


def assert_healthy(servers: dict[str, ServeProcess], channels: dict[str, grpc.Channel]) -> None:
    for name, server in servers.items():
        assert server.process.poll() is None, f"{name} exited:\n{server.logs()[-3000:]}"
        assert health_status(server.target) == health_pb2.HealthCheckResponse.SERVING
        info = pb.ServiceInfo.FromString(
            call(channels[name], "/kanri.serving.v1.PredictionService/GetServiceInfo", b"")[2] or b"")
        assert (info.model_version, info.model_uri) == ("1", server.args[server.args.index("--model") + 1])
    code, details, raw = call(channels["echo"], PREDICT,
                              pb.PredictRequest(input=pb.Value(str="still here")).SerializeToString())
    assert code is C.OK, details
    assert pb.PredictResponse.FromString(raw).output.str == "one:still here"
    digit = pb.PredictRequest(input=pb.Value(ints=pb.IntList(values=[0] * 64))).SerializeToString()
    code, details, raw = call(channels["digits"], PREDICT, digit)
    assert code is C.OK, details
    assert pb.PredictResponse.FromString(raw).output.str in set("0123456789")


# --- strategies --------------------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
NAME = st.text(string.ascii_letters + string.digits + "_-.é", max_size=10)
JSON_LEAF = st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers(-(2**53), 2**53) | TEXT
JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=20)
OPTIONS = st.dictionaries(TEXT, JSON, max_size=5)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """A valid serialization, truncated, with bytes flipped or random bytes spliced in."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert"]))
        at = draw(st.integers(0, len(data)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@st.composite
def wire_messages(draw: st.DrawFn, depth: int = 2) -> bytes:
    """Well-formed protobuf wire format with random fields: mostly parseable, often nonsensical."""
    out = bytearray()
    for _ in range(draw(st.integers(0, 6))):
        wire_type = draw(st.sampled_from([0, 1, 2, 5]))
        out += _varint(draw(st.integers(1, 8) | st.integers(1, 2**29 - 1)) << 3 | wire_type)
        if wire_type == 0:
            out += _varint(draw(st.integers(0, 2**64 - 1)))
        elif wire_type in (1, 5):
            out += draw(st.binary(min_size=8 if wire_type == 1 else 4, max_size=8 if wire_type == 1 else 4))
        else:
            nested = depth > 0 and draw(st.booleans())
            body = draw(wire_messages(depth - 1)) if nested else draw(TEXT.map(str.encode) | st.binary(max_size=16))
            out += _varint(len(body)) + body
    return bytes(out)


def _struct(data: dict[str, Any]) -> Any:
    request = pb.PredictRequest()
    request.option.update(data)
    return request.option


def seeds() -> dict[str, list[bytes]]:
    image = oip.ModelInferRequest.InferInputTensor(name="input", datatype="INT64", shape=[1, 64],
                                                    contents=oip.InferTensorContents(int64_contents=[1] * 64))
    word = oip.ModelInferRequest.InferInputTensor(name="input", datatype="BYTES", shape=[1])
    return {
        PREDICT: [pb.PredictRequest(input=pb.Value(str="hi"), option=_struct({"a": [1, {"b": None}]}),
                                    request_id="r").SerializeToString(),
                  pb.PredictRequest(input=pb.Value(ints=pb.IntList(values=[3] * 64))).SerializeToString()],
        SWITCH: [pb.SwitchModelRequest(model_uri="/nonexistent/model.txt", sha256="ab" * 32,
                                       model_version="x").SerializeToString()],
        INFER: [oip.ModelInferRequest(model_name="digits", inputs=[image], outputs=[
                    oip.ModelInferRequest.InferRequestedOutputTensor(name="label")]).SerializeToString(),
                oip.ModelInferRequest(model_name="testapp", id="i", inputs=[word],
                                      raw_input_contents=[b"\x02\x00\x00\x00hi"]).SerializeToString()],
        "/inference.GRPCInferenceService/ModelReady": [oip.ModelReadyRequest(name="digits").SerializeToString()],
        "/inference.GRPCInferenceService/ModelMetadata": [
            oip.ModelMetadataRequest(name="testapp", version="1").SerializeToString()],
    }


SEEDS = seeds()


def parsed(method: str, payload: bytes) -> Message | None:
    try:
        return UNARY[method].FromString(payload)
    except DecodeError:
        return None


# --- properties --------------------------------------------------------------------------------

@st.composite
def raw_calls(draw: st.DrawFn) -> tuple[str, str, str, bytes]:
    method = draw(st.sampled_from(sorted(UNARY)))
    server = draw(st.sampled_from(["echo", "digits"]))
    payload = draw(st.binary(max_size=200) | wire_messages() | (st.sampled_from(SEEDS[method]).flatmap(mutated)
                                                                 if method in SEEDS else wire_messages()))
    auth = draw(st.sampled_from(sorted(AUTH)))
    if method == SWITCH:
        # Random bytes may name an existing path: SwitchModel only goes, token-less, to the server that has one.
        server, auth = "echo", draw(st.sampled_from(["none", "wrong"]))
    return method, server, auth, payload


def test_random_bytes_to_every_unary_method(servers: dict[str, ServeProcess],
                                            channels: dict[str, grpc.Channel]) -> None:
    @FUZZ
    @given(raw_calls())
    @example((SWITCH, "echo", "none", b""))
    @example((PREDICT, "echo", "none", b""))
    @example(("/inference.GRPCInferenceService/ModelMetadata", "digits", "none", b"\x0a\x01x"))
    @example(("/inference.GRPCInferenceService/ServerLive", "digits", "none", b""))
    def prop(case: tuple[str, str, str, bytes]) -> None:
        method, server, auth, payload = case
        request = parsed(method, payload)
        if isinstance(request, pb.PredictRequest):
            assume(not request.input.str.startswith("sleep:"))
        code, details, _ = call(channels[server], method, payload, AUTH[auth])
        if request is None:  # admin calls check the token before the request
            check_answer(servers[server], code, details,
                         {C.UNAUTHENTICATED} if method == SWITCH else {C.INVALID_ARGUMENT})
        elif method == SWITCH:
            check_answer(servers[server], code, details, {C.UNAUTHENTICATED})
        else:
            check_answer(servers[server], code, details)

    SEEN.clear()
    prop()
    assert_reached(C.OK, C.NOT_FOUND, C.INVALID_ARGUMENT, C.UNAUTHENTICATED)
    assert_healthy(servers, channels)


@st.composite
def predict_requests(draw: st.DrawFn) -> pb.PredictRequest:
    kind = draw(st.sampled_from(["none", "str", "bytes", "ints", "floats", "strs", "image"]))
    request = pb.PredictRequest(request_id=draw(TEXT))
    if kind == "str":
        request.input.str = draw(TEXT.filter(lambda s: not s.startswith("sleep:")) | st.sampled_from(["boom", "bad"]))
    elif kind == "bytes":
        request.input.bytes = draw(st.binary(max_size=20))
    elif kind == "ints":
        request.input.ints.values[:] = draw(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=70))
    elif kind == "floats":
        request.input.floats.values[:] = draw(st.lists(st.floats(), max_size=70))
    elif kind == "strs":
        request.input.strs.values[:] = draw(st.lists(TEXT, max_size=5))
    elif kind == "image":
        request.input.ints.values[:] = draw(st.lists(st.integers(0, 16), min_size=64, max_size=64))
    if draw(st.booleans()):
        request.option.update(draw(OPTIONS))
    return request


def test_random_predict_requests(servers: dict[str, ServeProcess], channels: dict[str, grpc.Channel]) -> None:
    @FUZZ
    @given(st.sampled_from(["echo", "digits"]), predict_requests())
    @example("echo", pb.PredictRequest(input=pb.Value(str="hi")))
    @example("echo", pb.PredictRequest())
    def prop(server: str, request: pb.PredictRequest) -> None:
        code, details, raw = call(channels[server], PREDICT, request.SerializeToString())
        check_answer(servers[server], code, details)
        kind = request.input.WhichOneof("kind")
        if server == "echo" and kind == "str" and request.input.str not in ("boom", "bad"):
            assert code is C.OK, details
            response = pb.PredictResponse.FromString(raw)
            assert response.output.str == f"one:{request.input.str}"
            assert response.option == request.option
            assert (response.model_version, response.request_id) == ("1", request.request_id)
        elif server == "digits" and kind == "ints" and len(request.input.ints.values) == 64 \
                and all(0 <= v <= 16 for v in request.input.ints.values):
            assert code is C.OK, details
            assert pb.PredictResponse.FromString(raw).output.str in set("0123456789")
        elif kind is None or (server == "echo" and kind != "str"):
            assert code is C.INVALID_ARGUMENT, details

    SEEN.clear()
    prop()
    assert_reached(C.OK, C.INVALID_ARGUMENT)
    assert_healthy(servers, channels)


ITEM_SIZE = {"BOOL": 1, "INT8": 1, "UINT8": 1, "INT16": 2, "UINT16": 2, "FP16": 2, "INT32": 4, "UINT32": 4,
             "FP32": 4, "INT64": 8, "UINT64": 8, "FP64": 8}
LITTLE_ENDIAN = {"INT64": "<i8", "INT32": "<i4", "INT16": "<i2", "UINT8": "<u1"}


def _length_prefixed(words: list[str]) -> bytes:
    return b"".join(len(w.encode()).to_bytes(4, "little") + w.encode() for w in words)


def _raw_for(datatype: str, count: int, draw: st.DrawFn) -> bytes:
    """Raw contents of the right size for count elements of datatype (any bit patterns: NaN, inf...)."""
    if datatype == "BYTES":
        return _length_prefixed(draw(st.lists(TEXT, min_size=count, max_size=count)))
    size = ITEM_SIZE[datatype] * count
    return draw(st.binary(min_size=size, max_size=size))


CONTENT_VALUES = {
    "bool_contents": st.booleans(), "int_contents": st.integers(-(2**31), 2**31 - 1),
    "int64_contents": st.integers(-(2**63), 2**63 - 1), "uint_contents": st.integers(0, 2**32 - 1),
    "uint64_contents": st.integers(0, 2**64 - 1), "fp32_contents": st.floats(width=32),
    "fp64_contents": st.floats(), "bytes_contents": st.binary(max_size=8),
}


@st.composite
def infer_tensors(draw: st.DrawFn) -> tuple[oip.ModelInferRequest.InferInputTensor, bytes | None]:
    datatype = draw(st.sampled_from(DATATYPES) | st.sampled_from(["", "BF16", "int64", "STRING"]) | NAME)
    dims = st.integers(-2, 6) | st.sampled_from([64, 2**31, 2**62, -(2**63), 2**63 - 1])
    shape = draw(st.lists(dims, max_size=3))
    tensor = oip.ModelInferRequest.InferInputTensor(name=draw(NAME), datatype=datatype, shape=shape)
    for field in draw(st.lists(st.sampled_from(sorted(CONTENT_VALUES)), max_size=2, unique=True)):
        getattr(tensor.contents, field).extend(draw(st.lists(CONTENT_VALUES[field], max_size=70)))
    count = int(np.prod(shape, dtype=object)) if shape else 1
    raw_kind = draw(st.sampled_from(["none", "random", "sized"]))
    if raw_kind == "random":
        return tensor, draw(st.binary(max_size=64))
    if raw_kind == "sized" and datatype in DATATYPES and 0 <= count <= 130:
        return tensor, _raw_for(datatype, count, draw)
    return tensor, None


@st.composite
def well_formed_inference(draw: st.DrawFn, app: str) -> tuple[oip.ModelInferRequest.InferInputTensor, bytes | None]:
    batch = draw(st.integers(1, 4))
    if app == "digits":
        datatype = draw(st.sampled_from(sorted(LITTLE_ENDIAN)))
        values = draw(st.lists(st.integers(0, 16), min_size=64 * batch, max_size=64 * batch))
        tensor = oip.ModelInferRequest.InferInputTensor(name="input", datatype=datatype, shape=[batch, 64])
        if draw(st.booleans()):
            return tensor, np.asarray(values, dtype=LITTLE_ENDIAN[datatype]).tobytes()
        field = {"INT64": "int64_contents", "INT32": "int_contents", "UINT8": "uint_contents",
                 "INT16": "int_contents"}[datatype]
        getattr(tensor.contents, field).extend(values)
        return tensor, None
    words = draw(st.lists(TEXT.filter(lambda s: s not in ("boom", "bad") and not s.startswith("sleep:")),
                          min_size=batch, max_size=batch))
    tensor = oip.ModelInferRequest.InferInputTensor(name="input", datatype="BYTES",
                                                    shape=draw(st.sampled_from([[batch], [batch, 1]])))
    if draw(st.booleans()):
        return tensor, _length_prefixed(words)
    tensor.contents.bytes_contents.extend(w.encode() for w in words)
    return tensor, None


PARAMETER = st.one_of(
    st.builds(lambda v: oip.InferParameter(bool_param=v), st.booleans()),
    st.builds(lambda v: oip.InferParameter(int64_param=v), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: oip.InferParameter(string_param=v), TEXT),
    st.builds(lambda v: oip.InferParameter(double_param=v), st.floats()),
    st.builds(lambda v: oip.InferParameter(uint64_param=v), st.integers(0, 2**64 - 1)),
    st.just(oip.InferParameter()),
)
OPTION_PARAMETER = st.one_of(
    OPTIONS.map(json.dumps), JSON.map(json.dumps), TEXT, st.sampled_from(["[" * 5000, "1" * 5000, "{}", "null"]),
).map(lambda text: oip.InferParameter(string_param=text))


@st.composite
def infer_requests(draw: st.DrawFn, server: str) -> tuple[oip.ModelInferRequest, bool]:
    """A ModelInfer request, and whether it is well formed (so must succeed)."""
    app = APPS[server]
    valid = draw(st.booleans())
    request = oip.ModelInferRequest(id=draw(TEXT))
    if valid:
        request.model_name, request.model_version = app, draw(st.sampled_from(["", "1"]))
        tensor, raw = draw(well_formed_inference(app))
        request.inputs.append(tensor)
        if raw is not None:
            request.raw_input_contents.append(raw)
        outputs = draw(st.lists(st.sampled_from(["label", "scores"]), max_size=2, unique=True))
    else:
        request.model_name = draw(st.just(app) | NAME)
        request.model_version = draw(st.sampled_from(["", "1", "2"]) | NAME)
        for tensor, raw in draw(st.lists(infer_tensors(), max_size=2)):
            request.inputs.append(tensor)
            if raw is not None:
                request.raw_input_contents.append(raw)
        outputs = draw(st.lists(st.sampled_from(["label", "scores"]) | NAME, max_size=3))
    request.outputs.extend(oip.ModelInferRequest.InferRequestedOutputTensor(name=name) for name in outputs)
    for key, parameter in draw(st.dictionaries(NAME, PARAMETER, max_size=3)).items():
        request.parameters[key].CopyFrom(parameter)
    if draw(st.booleans()):
        request.parameters["option"].CopyFrom(draw(OPTION_PARAMETER))
    if "option" in request.parameters and request.parameters["option"].WhichOneof("parameter_choice") == "string_param":
        valid = valid and _is_json_object(request.parameters["option"].string_param)
    return request, valid


def _is_json_object(text: str) -> bool:
    """Strict JSON: NaN and Infinity, which Python's json reads, are refused."""

    def refuse(constant: str) -> None:
        raise ValueError(constant)

    try:
        return isinstance(json.loads(text, parse_constant=refuse), dict)
    except (ValueError, RecursionError):
        return False


WORD = oip.ModelInferRequest.InferInputTensor(name="input", datatype="BYTES", shape=[1],
                                              contents=oip.InferTensorContents(bytes_contents=[b"ok"]))


def with_option(text: str) -> oip.ModelInferRequest:
    request = oip.ModelInferRequest(model_name="testapp", inputs=[WORD])
    request.parameters["option"].string_param = text
    return request


def test_random_model_infer_requests(servers: dict[str, ServeProcess], channels: dict[str, grpc.Channel]) -> None:
    @FUZZ
    @given(st.sampled_from(["echo", "digits"]).flatmap(lambda s: st.tuples(st.just(s), infer_requests(s))))
    @example(("echo", (oip.ModelInferRequest(model_name="testapp", inputs=[WORD]), True)))
    @example(("echo", (oip.ModelInferRequest(model_name="other", inputs=[WORD]), False)))
    @example(("digits", (oip.ModelInferRequest(model_name="digits"), False)))
    @example(("echo", (with_option("1" * 5000), False)))
    @example(("echo", (with_option("[" * 5000), False)))
    @example(("echo", (with_option('{"": [Infinity]}'), False)))
    def prop(case: tuple[str, tuple[oip.ModelInferRequest, bool]]) -> None:
        server, (request, valid) = case
        code, details, raw = call(channels[server], INFER, request.SerializeToString())
        check_answer(servers[server], code, details)
        if valid:
            assert code is C.OK, details
        if code is C.OK:
            response = oip.ModelInferResponse.FromString(raw)
            requested = [o.name for o in request.outputs] or ["label", "scores"]
            assert [o.name for o in response.outputs] == requested
            assert len(response.raw_output_contents) == len(response.outputs)
            assert (response.model_name, response.model_version, response.id) == (APPS[server], "1", request.id)

    SEEN.clear()
    prop()
    assert_reached(C.OK, C.INVALID_ARGUMENT, C.NOT_FOUND)
    assert_healthy(servers, channels)


URI_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/:\\"), min_size=1, max_size=16)


def test_random_switch_model_never_switches(servers: dict[str, ServeProcess], channels: dict[str, grpc.Channel],
                                            tmp_path: Path) -> None:
    """With the token, SwitchModel names only artifacts that are missing or cannot load; without it, none runs."""
    missing = tmp_path / "missing"
    uris = st.one_of(
        URI_TEXT.map(lambda t: f"{missing}/{t}"), URI_TEXT.map(lambda t: f"memory://kanri-fuzz/{t}"),
        URI_TEXT.map(lambda t: f"nosuchproto://{t}"), st.just(""), st.just(str(tmp_path)), st.just(f"file://{missing}"))
    sha = st.just("") | st.text("0123456789abcdef", min_size=64, max_size=64) | TEXT

    @FUZZ
    @given(uri=uris, sha256=sha, version=TEXT, auth=st.sampled_from(sorted(AUTH)))
    @example(uri="", sha256="", version="", auth="token")
    @example(uri=str(missing / "model.txt"), sha256="", version="", auth="token")
    @example(uri=str(tmp_path), sha256="", version="", auth="token")
    @example(uri=str(missing / "model.txt"), sha256="", version="", auth="none")
    def prop(uri: str, sha256: str, version: str, auth: str) -> None:
        request = pb.SwitchModelRequest(model_uri=uri, sha256=sha256, model_version=version)
        code, details, _ = call(channels["echo"], SWITCH, request.SerializeToString(), AUTH[auth])
        if auth != "token":
            check_answer(servers["echo"], code, details, {C.UNAUTHENTICATED})
        else:
            check_answer(servers["echo"], code, details, {C.INVALID_ARGUMENT, C.NOT_FOUND, C.FAILED_PRECONDITION})

    SEEN.clear()
    prop()
    assert_reached(C.UNAUTHENTICATED, C.NOT_FOUND, C.FAILED_PRECONDITION, C.INVALID_ARGUMENT)
    assert_healthy(servers, channels)


# --- what the fuzz found -----------------------------------------------------------------------

def test_undecodable_request_is_not_unknown(servers: dict[str, ServeProcess],
                                            channels: dict[str, grpc.Channel]) -> None:
    code, details, _ = call(channels["echo"], PREDICT, b"\xff\xff\xff")
    check_answer(servers["echo"], code, details)


def test_server_survived_the_fuzz(servers: dict[str, ServeProcess], channels: dict[str, grpc.Channel]) -> None:
    assert_healthy(servers, channels)
    code, details, raw = call(channels["echo"], INFER,
                              oip.ModelInferRequest(model_name="testapp", inputs=[WORD]).SerializeToString())
    assert code is C.OK, details
    assert oip.ModelInferResponse.FromString(raw).raw_output_contents[0] == b"\x06\x00\x00\x00one:ok"
