"""The Open Inference Protocol's REST form (KServe v2 JSON) ⇄ its protobuf messages.

A tensor carries its elements in "data", nested or flat, row-major; or, with
the binary tensor data extension that tritonclient uses, as bytes after the
JSON: the header Inference-Header-Content-Length gives the JSON's length and
each input's parameter binary_data_size its share of the bytes, in input
order (BYTES elements each prefixed by a 4-byte little-endian length, as in
the gRPC form's raw contents). An answer carries an output the same way when
the request's output asks for it ("parameters": {"binary_data": true}) or the
request's parameter binary_data_output is true.

Everything past the decoding (which datatypes and shapes a model takes, the
option, the outputs) is serving.inference's, shared with the gRPC form.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._pb import open_inference_pb2 as oip
from ..errors import InvalidInput
from ..predictor import INT64_MAX, INT64_MIN
from ..tensors import CONTENTS, DTYPES, FLOAT, INTEGER, raw_elements
from .bodies import an_array, an_object, boolean, dump, integer, kind, parse_object, required, text
from .messages import Request, Response, json_response

HEADER_LENGTH = "Inference-Header-Content-Length"
EXTENSIONS = ("binary_tensor_data",)
# What a JSON element of each datatype must be.
ELEMENTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "BOOL": (lambda v: isinstance(v, bool), "true or false"),
    "BYTES": (lambda v: isinstance(v, str), "strings"),
    **dict.fromkeys(INTEGER, (lambda v: isinstance(v, int) and not isinstance(v, bool), "integers")),
    **dict.fromkeys(FLOAT, (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "numbers")),
}
RANGES = {datatype: (int(np.iinfo(DTYPES[datatype]).min), int(np.iinfo(DTYPES[datatype]).max)) for datatype in INTEGER}

WantsBinary = Callable[[str], bool]  # whether the answer carries this output as binary data


def infer_request(request: Request, name: str, version: str) -> tuple[oip.ModelInferRequest, WantsBinary]:
    """The protocol's request for model name (and version), and which outputs go back as binary data."""
    head, binary = _split(request)
    document = parse_object(head, "the inference request")
    message = oip.ModelInferRequest(model_name=name, model_version=version,
                                    id=text(document.get("id", ""), '"id"'))
    parameters = dict(an_object(document.get("parameters", {}), '"parameters"'))
    all_binary = boolean(parameters.pop("binary_data_output", False), "parameter binary_data_output")
    set_parameters(message.parameters, parameters, "parameter")
    inputs = required(document, "inputs", 'the inference request ({"inputs": [{"name": ..., "datatype": ..., '
                                          '"shape": [...], "data": [...]}]})')
    offset = 0
    for index, spec in enumerate(an_array(inputs, '"inputs"')):
        offset = _add_input(message, an_object(spec, f"inputs[{index}]"), f"inputs[{index}]", binary, offset)
    if offset != len(binary):
        raise InvalidInput(f"the request carries {len(binary)} bytes of binary data after its JSON, but its "
                           f"inputs' binary_data_size parameters add up to {offset}")
    binary_outputs = _add_outputs(message, an_array(document.get("outputs", []), '"outputs"'))
    return message, lambda output: all_binary or output in binary_outputs


def _add_outputs(message: oip.ModelInferRequest, specs: list[Any]) -> set[str]:
    """Add the outputs asked for; returns the names of those asked for as binary data."""
    binary = set()
    for index, spec in enumerate(specs):
        where = f"outputs[{index}]"
        output = an_object(spec, where)
        name = text(required(output, "name", where), f"{where}.name")
        message.outputs.add(name=name)
        parameters = an_object(output.get("parameters", {}), f"{where}.parameters")
        if boolean(parameters.get("binary_data", False), f"{where}.parameters.binary_data"):
            binary.add(name)
    return binary


def _split(request: Request) -> tuple[bytes, bytes]:
    """The JSON and the binary data after it."""
    header = request.headers.get(HEADER_LENGTH.lower())
    if header is None:
        return request.body, b""
    if not (header.isascii() and header.isdigit()):
        raise InvalidInput(f"header {HEADER_LENGTH} must be the JSON's length in bytes, got {header!r}")
    length = int(header)
    if length > len(request.body):
        raise InvalidInput(f"header {HEADER_LENGTH} is {length}, but the body holds only {len(request.body)} bytes")
    return request.body[:length], request.body[length:]


def _add_input(message: oip.ModelInferRequest, spec: dict[str, Any], where: str, binary: bytes, offset: int) -> int:
    """Add one input tensor; returns the offset of the next input's binary data."""
    name = text(required(spec, "name", where), f"{where}.name")
    datatype = text(required(spec, "datatype", where), f"{where}.datatype")
    shape = [integer(d, f"input '{name}' shape", INT64_MIN, INT64_MAX)
             for d in an_array(required(spec, "shape", where), f"input '{name}' shape")]
    tensor = message.inputs.add(name=name, datatype=datatype, shape=shape)
    size = an_object(spec.get("parameters", {}), f"input '{name}' parameters").get("binary_data_size")
    if size is not None:
        size = integer(size, f"input '{name}' binary_data_size", 0, INT64_MAX)
        if offset + size > len(binary):
            raise InvalidInput(f"input '{name}' has a binary_data_size of {size} bytes, but only "
                               f"{len(binary) - offset} bytes of binary data remain after the inputs before it")
        if "data" in spec:
            raise InvalidInput(f"input '{name}' has both \"data\" and a binary_data_size: send its data one way")
        message.raw_input_contents.append(binary[offset:offset + size])
        return offset + size
    data = required(spec, "data", f"input '{name}' (without a binary_data_size parameter)")
    _fill(message, tensor, _flatten(an_array(data, f"input '{name}' data")))
    return offset


def _flatten(data: list[Any]) -> list[Any]:
    """Nested arrays' elements in row-major order (without recursion: JSON may nest deep)."""
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _fill(message: oip.ModelInferRequest, tensor: oip.ModelInferRequest.InferInputTensor, flat: list[Any]) -> None:
    """Put JSON elements in the tensor's typed contents, checked against its datatype."""
    datatype, name = tensor.datatype, tensor.name
    if datatype not in ELEMENTS:
        return  # serving.inference refuses the datatype, naming those the model takes
    accepts, expected = ELEMENTS[datatype]
    for value in flat:
        if not accepts(value):
            raise InvalidInput(f"input '{name}' of datatype {datatype} holds {kind(value)}; its elements must be "
                               f"{expected}")
    if datatype == "BYTES":
        tensor.contents.bytes_contents.extend(text(v, f"input '{name}' element").encode() for v in flat)
        return
    if datatype in RANGES and flat:
        low, high = RANGES[datatype]
        for value in (min(flat), max(flat)):
            if not low <= value <= high:
                raise InvalidInput(f"input '{name}' holds {value}, out of the range of {datatype} ({low}..{high})")
    try:
        if datatype in CONTENTS:
            getattr(tensor.contents, CONTENTS[datatype]).extend(flat)
        else:  # FP16 has no typed contents field
            message.raw_input_contents.append(np.asarray(flat, dtype=DTYPES[datatype]).tobytes())
    except OverflowError:  # an integer too large for a float
        raise InvalidInput(f"input '{name}' holds a number out of the range of {datatype}") from None


def set_parameters(target: Any, parameters: dict[str, Any], what: str) -> None:
    """JSON parameters as the protocol's typed ones: true/false, integers, numbers and strings."""
    for key, value in parameters.items():
        where = f"{what} '{text(key, what)}'"
        if isinstance(value, bool):
            target[key].bool_param = value
        elif isinstance(value, int):
            target[key].int64_param = integer(value, where, INT64_MIN, INT64_MAX)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidInput(f"{where} is out of the range of a double")
            target[key].double_param = value
        elif isinstance(value, str):
            target[key].string_param = text(value, where)
        else:
            raise InvalidInput(f"{where} is {kind(value)}; parameters are true/false, numbers or strings (send an "
                               "option of any depth as JSON text in the string parameter 'option')")


def parameter_values(parameters: Any) -> dict[str, Any]:
    return {key: getattr(p, choice) for key, p in parameters.items() if (choice := p.WhichOneof("parameter_choice"))}


def infer_response(response: oip.ModelInferResponse, wants_binary: WantsBinary) -> Response:
    outputs, blobs = [], []
    for tensor, raw in zip(response.outputs, response.raw_output_contents, strict=True):
        output: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}
        if wants_binary(tensor.name):
            output["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            output["data"] = _json_elements(tensor.datatype, raw, tensor.name)
        outputs.append(output)
    document: dict[str, Any] = {"model_name": response.model_name, "model_version": response.model_version}
    if response.id:
        document["id"] = response.id
    if response.parameters:
        document["parameters"] = parameter_values(response.parameters)
    document["outputs"] = outputs
    head = dump(document)
    if not blobs:
        return Response(200, head)
    return Response(200, head + b"".join(blobs), "application/octet-stream", ((HEADER_LENGTH, str(len(head))),))


def _json_elements(datatype: str, raw: bytes, name: str) -> list[Any]:
    elements = raw_elements(datatype, raw, name)
    if datatype != "BYTES":
        return elements
    try:
        return [e.decode("utf-8") for e in elements]
    except UnicodeDecodeError:
        raise InvalidInput(f"output '{name}' holds bytes that are not UTF-8 text, which JSON cannot carry; ask for it "
                           f'as binary data: "outputs": [{{"name": "{name}", "parameters": {{"binary_data": true}}}}]'
                           ) from None


def server_metadata(message: oip.ServerMetadataResponse) -> Response:
    return json_response(200, {"name": message.name, "version": message.version,
                               "extensions": [*message.extensions, *EXTENSIONS]})


def model_metadata(message: oip.ModelMetadataResponse) -> Response:
    def tensors(items: Any) -> list[dict[str, Any]]:
        return [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in items]

    return json_response(200, {"name": message.name, "versions": list(message.versions), "platform": message.platform,
                               "inputs": tensors(message.inputs), "outputs": tensors(message.outputs)})
