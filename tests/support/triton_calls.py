"""Drive a server's Open Inference Protocol with the unmodified tritonclient: over gRPC, or HTTP with --http.

tritonclient registers its own ``inference`` protobuf package in the default
descriptor pool, which collides with kanri's serving/_pb/open_inference_pb2, so
tests run this script in a subprocess instead of importing tritonclient:

    python tests/support/triton_calls.py [--http] TARGET SPEC

SPEC is a scenario name (see SCENARIOS) or JSON: one call or a list of calls,
each an object with "op" (a method of InferenceServerClient) and its arguments.
An "infer" call takes:

    {"op": "infer", "model": "digits", "version": "", "request_id": "",
     "inputs": [{"name": "input", "datatype": "INT64", "shape": [1, 64], "data": [[...]]}],
     "outputs": ["scores"], "parameters": {"k": "v"}}

where BYTES data is text (sent as UTF-8) or, under "hex" instead of "data",
hex strings. Over HTTP, tensors travel as binary data unless an input says
"binary": false, or the call "binary_outputs": false for its outputs; the
call's "compression" ("gzip" or "deflate") compresses the request. It prints
one JSON list, a result per call: {"ok": ...} or {"error": {"status": ...,
"message": "..."}}, the status "StatusCode.X" over gRPC and "400" and such
over HTTP. An infer result is {"model_name", "model_version", "id",
"parameters", "outputs": {name: {"datatype", "shape", "data"}}} with BYTES
output elements as hex strings.
"""

from __future__ import annotations

import importlib
import json
import sys
from types import ModuleType
from typing import Any

import numpy as np
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "server": [{"op": "is_server_live"}, {"op": "is_server_ready"}, {"op": "get_server_metadata"}],
}


class Triton:
    """One of tritonclient's two clients, and what differs between them."""

    def __init__(self, http: bool, target: str) -> None:
        self.http = http
        self.module: ModuleType = importlib.import_module("tritonclient.http" if http else "tritonclient.grpc")
        self.client = self.module.InferenceServerClient(url=target)

    def input(self, spec: dict[str, Any]) -> Any:
        datatype = spec["datatype"]
        if "hex" in spec:
            array = np.array([bytes.fromhex(h) for h in _flat(spec["hex"])], dtype=np.object_)
        elif datatype == "BYTES":
            array = np.array([s.encode("utf-8") for s in _flat(spec["data"])], dtype=np.object_)
        else:
            array = np.array(_flat(spec["data"]), dtype=triton_to_np_dtype(datatype))
        array = array.reshape(spec["shape"])
        tensor = self.module.InferInput(spec.get("name", "input"), list(array.shape), datatype)
        if self.http:
            tensor.set_data_from_numpy(array, binary_data=spec.get("binary", True))
        else:
            tensor.set_data_from_numpy(array)
        return tensor

    def output(self, name: str, call: dict[str, Any]) -> Any:
        if self.http:
            return self.module.InferRequestedOutput(name, binary_data=call.get("binary_outputs", True))
        return self.module.InferRequestedOutput(name)

    def infer(self, call: dict[str, Any]) -> dict[str, Any]:
        outputs = [self.output(name, call) for name in call["outputs"]] if "outputs" in call else None
        extra = {"request_compression_algorithm": call["compression"]} if "compression" in call else {}
        result = self.client.infer(call["model"], [self.input(i) for i in call["inputs"]],
                                   model_version=call.get("version", ""), outputs=outputs,
                                   request_id=call.get("request_id", ""), parameters=call.get("parameters"), **extra)
        response = _plain(result.get_response())
        answer: dict[str, Any] = {"model_name": response["model_name"], "model_version": response["model_version"],
                                  "id": response.get("id", ""), "parameters": response.get("parameters", {}),
                                  "outputs": {}}
        for tensor in response["outputs"]:
            array = result.as_numpy(tensor["name"])
            if tensor["datatype"] == "BYTES":  # JSON data over HTTP comes as str
                hexes = [(e.encode() if isinstance(e, str) else e).hex() for e in array.reshape(-1)]
                array = np.array(hexes, dtype=np.object_).reshape(array.shape)
            answer["outputs"][tensor["name"]] = {"datatype": tensor["datatype"], "shape": list(tensor["shape"]),
                                                 "data": array.tolist()}
        return answer

    def run(self, call: dict[str, Any]) -> Any:
        op = call["op"]
        if op == "infer":
            return self.infer(call)
        if op == "is_model_ready":
            return self.client.is_model_ready(call["name"], call.get("version", ""))
        if op == "get_model_metadata":
            meta = _plain(self.client.get_model_metadata(call["name"], call.get("version", "")))
            return {key: meta[key] for key in ("name", "versions", "platform", "inputs", "outputs")}
        if op == "get_server_metadata":
            meta = _plain(self.client.get_server_metadata())
            return {key: meta.get(key, []) for key in ("name", "version", "extensions")}
        if op in ("is_server_live", "is_server_ready"):
            return getattr(self.client, op)()
        raise ValueError(f"unknown op {op!r}")


def _plain(message: Any) -> Any:
    """An answer as the HTTP client gives it (a dict), from the gRPC client's message too."""
    if isinstance(message, dict):
        return message
    plain: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.name == "parameters":
            plain[field.name] = {key: getattr(p, p.WhichOneof("parameter_choice")) for key, p in value.items()}
        elif not field.is_repeated:
            plain[field.name] = _plain(value) if field.message_type is not None else value
        else:
            plain[field.name] = [_plain(item) for item in value] if field.message_type is not None else list(value)
    return plain


def _flat(data: Any) -> list[Any]:
    if isinstance(data, list):
        return [e for item in data for e in _flat(item)]
    return [data]


def main(argv: list[str]) -> int:
    http = argv[1] == "--http"
    target, spec = argv[1 + http], argv[2 + http]
    calls = SCENARIOS[spec] if spec in SCENARIOS else json.loads(spec)
    if isinstance(calls, dict):
        calls = [calls]
    triton = Triton(http, target)
    results = []
    for call in calls:
        try:
            results.append({"ok": triton.run(call)})
        except InferenceServerException as exc:
            results.append({"error": {"status": exc.status(), "message": exc.message()}})
    triton.client.close()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
