"""Drive a server's Open Inference Protocol service with the unmodified tritonclient.grpc client.

tritonclient registers its own ``inference`` protobuf package in the default
descriptor pool, which collides with kanri's serving/_pb/open_inference_pb2, so
tests run this script in a subprocess instead of importing tritonclient:

    python tests/support/triton_calls.py TARGET SPEC

SPEC is a scenario name (see SCENARIOS) or JSON: one call or a list of calls,
each an object with "op" (a method of InferenceServerClient) and its arguments.
An "infer" call takes:

    {"op": "infer", "model": "digits", "version": "", "request_id": "",
     "inputs": [{"name": "input", "datatype": "INT64", "shape": [1, 64], "data": [[...]]}],
     "outputs": ["scores"], "parameters": {"k": "v"}}

where BYTES data is text (sent as UTF-8) or, under "hex" instead of "data",
hex strings. It prints one JSON list, a result per call: {"ok": ...} or
{"error": {"status": "StatusCode.X", "message": "..."}}. An infer result is
{"model_name", "model_version", "id", "parameters", "outputs": {name:
{"datatype", "shape", "data"}}} with BYTES output elements as hex strings.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "server": [{"op": "is_server_live"}, {"op": "is_server_ready"}, {"op": "get_server_metadata"}],
}


def _input(spec: dict[str, Any]) -> triton.InferInput:
    datatype = spec["datatype"]
    if "hex" in spec:
        array = np.array([bytes.fromhex(h) for h in _flat(spec["hex"])], dtype=np.object_)
    elif datatype == "BYTES":
        array = np.array([s.encode("utf-8") for s in _flat(spec["data"])], dtype=np.object_)
    else:
        array = np.array(_flat(spec["data"]), dtype=triton_to_np_dtype(datatype))
    array = array.reshape(spec["shape"])
    tensor = triton.InferInput(spec.get("name", "input"), list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def _flat(data: Any) -> list[Any]:
    if isinstance(data, list):
        return [e for item in data for e in _flat(item)]
    return [data]


def _tensor_meta(tensor: Any) -> dict[str, Any]:
    return {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}


def _parameters(parameters: Any) -> dict[str, Any]:
    values = {}
    for key, param in parameters.items():
        kind = param.WhichOneof("parameter_choice")
        values[key] = getattr(param, kind) if kind else None
    return values


def _infer(client: triton.InferenceServerClient, call: dict[str, Any]) -> dict[str, Any]:
    outputs = [triton.InferRequestedOutput(name) for name in call["outputs"]] if "outputs" in call else None
    result = client.infer(call["model"], [_input(i) for i in call["inputs"]], model_version=call.get("version", ""),
                          outputs=outputs, request_id=call.get("request_id", ""),
                          parameters=call.get("parameters"))
    response = result.get_response()
    answer: dict[str, Any] = {"model_name": response.model_name, "model_version": response.model_version,
                              "id": response.id, "parameters": _parameters(response.parameters), "outputs": {}}
    for tensor in response.outputs:
        array = result.as_numpy(tensor.name)
        if tensor.datatype == "BYTES":
            array = np.array([b.hex() for b in array.reshape(-1)], dtype=np.object_).reshape(array.shape)
        data = array.tolist()
        answer["outputs"][tensor.name] = {"datatype": tensor.datatype, "shape": list(tensor.shape), "data": data}
    return answer


def run(client: triton.InferenceServerClient, call: dict[str, Any]) -> Any:
    op = call["op"]
    if op == "infer":
        return _infer(client, call)
    if op == "is_model_ready":
        return client.is_model_ready(call["name"], call.get("version", ""))
    if op == "get_model_metadata":
        meta = client.get_model_metadata(call["name"], call.get("version", ""))
        return {"name": meta.name, "versions": list(meta.versions), "platform": meta.platform,
                "inputs": [_tensor_meta(t) for t in meta.inputs], "outputs": [_tensor_meta(t) for t in meta.outputs]}
    if op == "get_server_metadata":
        meta = client.get_server_metadata()
        return {"name": meta.name, "version": meta.version, "extensions": list(meta.extensions)}
    if op in ("is_server_live", "is_server_ready"):
        return getattr(client, op)()
    raise ValueError(f"unknown op {op!r}")


def main(argv: list[str]) -> int:
    target, spec = argv[1], argv[2]
    calls = SCENARIOS[spec] if spec in SCENARIOS else json.loads(spec)
    if isinstance(calls, dict):
        calls = [calls]
    client = triton.InferenceServerClient(url=target)
    results = []
    for call in calls:
        try:
            results.append({"ok": run(client, call)})
        except InferenceServerException as exc:
            results.append({"error": {"status": exc.status(), "message": exc.message()}})
    client.close()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
