"""Drive a server's Open Inference Protocol REST API with KServe's own client, InferenceRESTClient.

kserve pins protobuf below 7 and kanri needs 7, so this runs in a virtual
environment of its own (tests.support.kserve_venv):

    VENV/bin/python tests/support/kserve_calls.py URL CALLS

CALLS is a JSON list of calls: {"op": "is_server_live"}, {"op": "is_server_ready"},
{"op": "is_model_ready", "name": ...}, or {"op": "infer", "model": ..., "binary":
true, "inputs": [{"name", "datatype", "shape", "data"}]} with BYTES data as text.
It prints one JSON list, a result per call: {"ok": ...} or {"error": {"status": 400,
"message": "..."}}. An infer result is {"model_name", "id",
"outputs": {name: {"datatype", "shape", "data"}}} with BYTES elements as text.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


def _input(spec: dict[str, Any], binary: bool) -> InferInput:
    tensor = InferInput(spec["name"], spec["shape"], spec["datatype"])
    if spec["datatype"] == "BYTES":
        array = np.array([s.encode() for s in spec["data"]], dtype=np.object_).reshape(spec["shape"])
    else:
        array = np.array(spec["data"]).reshape(spec["shape"])
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


async def _run(client: InferenceRESTClient, url: str, call: dict[str, Any]) -> Any:
    op = call["op"]
    if op in ("is_server_live", "is_server_ready"):
        return await getattr(client, op)(url)
    if op == "is_model_ready":
        return await client.is_model_ready(url, call["name"])
    if op == "infer":
        request = InferRequest(call["model"], [_input(i, call.get("binary", True)) for i in call["inputs"]],
                               request_id=call.get("request_id"))
        response = await client.infer(url, request, model_name=call["model"])
        outputs = {}
        for output in response.outputs:
            data = output.as_numpy().reshape(-1).tolist()
            data = [d.decode() if isinstance(d, bytes) else d for d in data]
            outputs[output.name] = {"datatype": output.datatype, "shape": list(output.shape), "data": data}
        return {"model_name": response.model_name, "id": response.id,  # its client reads no model_version
                "outputs": outputs}
    raise ValueError(f"unknown op {op!r}")


async def main(url: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    results = []
    try:
        for call in calls:
            try:
                results.append({"ok": await _run(client, url, call)})
            except httpx.HTTPStatusError as exc:
                results.append({"error": {"status": exc.response.status_code,
                                          "message": exc.response.json().get("error", "")}})
    finally:
        await client.close()
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))))
