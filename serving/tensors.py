"""Open Inference Protocol tensors ⇄ the predictor's Python values.

A tensor carries a batch: for list types, shape [N] is one input and [B, N]
is B inputs; for str and bytes, shape [B] (or [B, 1]) is B inputs. Data comes
from raw_input_contents (little-endian; BYTES elements prefixed by a 4-byte
little-endian length) or from the typed contents fields.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from ._pb import open_inference_pb2 as oip
from .errors import InvalidInput, PredictorFailed
from .predictor import INT64_MAX, type_name

# Inputs one request may carry: a [B, 0] tensor costs a few bytes on the wire but B predictions.
MAX_BATCH = 4096
DTYPES = {
    "BOOL": "?", "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}
CONTENTS = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}
INTEGER = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
FLOAT = {"FP16", "FP32", "FP64"}
# What each predictor type accepts, and the datatype it is described and answered with.
ACCEPTS = {"str": {"BYTES"}, "bytes": {"BYTES"}, "list[str]": {"BYTES"},
           "list[int]": INTEGER, "list[float]": FLOAT | INTEGER}
DATATYPE = {"str": "BYTES", "bytes": "BYTES", "list[str]": "BYTES", "list[int]": "INT64", "list[float]": "FP64"}


def input_shape(value_type: Any) -> list[int]:
    return [-1, -1] if type_name(value_type).startswith("list[") else [-1]


def decode_input(tensor: oip.ModelInferRequest.InferInputTensor, raw: bytes | None, value_type: Any) -> list[Any]:
    """The batch of inputs a tensor carries, as the predictor's input type."""
    name = type_name(value_type)
    if tensor.datatype not in ACCEPTS[name]:
        raise InvalidInput(f"input tensor '{tensor.name}' has datatype {tensor.datatype or '(none)'}; "
                           f"this model takes {name} as {' or '.join(sorted(ACCEPTS[name]))}")
    shape = list(tensor.shape)
    if any(d < 0 for d in shape):
        raise InvalidInput(f"input tensor '{tensor.name}' has a negative dimension in shape {shape}")
    if shape and shape[0] > MAX_BATCH:
        raise InvalidInput(f"input tensor '{tensor.name}' holds {shape[0]} inputs; one request may hold {MAX_BATCH}")
    elements = _elements(tensor, raw, math.prod(shape))
    if name.startswith("list["):
        if len(shape) == 1:
            rows = [elements]
        elif len(shape) == 2:
            rows = [elements[i * shape[1]:(i + 1) * shape[1]] for i in range(shape[0])]
        else:
            raise InvalidInput(f"input tensor '{tensor.name}' must have shape [N] or [batch, N], got {shape}")
        return [_convert_row(row, name, tensor.name) for row in rows]
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise InvalidInput(f"input tensor '{tensor.name}' must have shape [batch] or [batch, 1], got {shape}")
    return [_text(e, tensor.name) if name == "str" else e for e in elements]


def _convert_row(row: list[Any], name: str, tensor: str) -> list[Any]:
    if name == "list[str]":
        return [_text(e, tensor) for e in row]
    if name == "list[float]":
        return [float(e) for e in row]
    ints = [int(e) for e in row]
    if ints and max(ints) > INT64_MAX:  # only UINT64 can hold these
        raise InvalidInput(f"input tensor '{tensor}' holds {max(ints)}, beyond the int64 range of list[int]")
    return ints


def _text(data: bytes, tensor: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"input tensor '{tensor}' holds bytes that are not UTF-8 text") from None


def _elements(tensor: oip.ModelInferRequest.InferInputTensor, raw: bytes | None, count: int) -> list[Any]:
    if raw is not None:
        itemsize = 0 if tensor.datatype == "BYTES" else np.dtype(DTYPES[tensor.datatype]).itemsize
        if itemsize and len(raw) != count * itemsize:
            raise InvalidInput(f"input tensor '{tensor.name}' has {len(raw)} raw bytes; shape "
                               f"{list(tensor.shape)} of {tensor.datatype} needs {count * itemsize}")
        elements = raw_elements(tensor.datatype, raw, tensor.name)
    elif tensor.datatype not in CONTENTS:
        # FP16 has no typed contents field in the protocol.
        raise InvalidInput(f"input tensor '{tensor.name}' of datatype {tensor.datatype} must come in "
                           "raw_input_contents")
    else:
        elements = list(getattr(tensor.contents, CONTENTS[tensor.datatype]))
    if len(elements) != count:
        raise InvalidInput(f"input tensor '{tensor.name}' has {len(elements)} elements; "
                           f"its shape {list(tensor.shape)} needs {count}")
    return elements


def split_bytes(raw: bytes, tensor: str) -> list[bytes]:
    """The elements of BYTES raw contents: each prefixed by its 4-byte little-endian length."""
    elements, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidInput(f"input tensor '{tensor}': truncated BYTES length prefix at offset {offset}")
        (size,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + size > len(raw):
            raise InvalidInput(f"input tensor '{tensor}': BYTES element of {size} bytes overruns the data")
        elements.append(raw[offset:offset + size])
        offset += size
    return elements


def encode_output(name: str, values: list[Any],
                  value_type_name: str) -> tuple[oip.ModelInferResponse.InferOutputTensor, bytes]:
    """A batch of outputs as one tensor and its raw contents."""
    datatype = DATATYPE[value_type_name]
    if value_type_name in ("str", "bytes"):
        shape = [len(values)]
        flat: list[Any] = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
    else:
        widths = {len(v) for v in values}
        if len(widths) > 1:
            raise PredictorFailed(f"output '{name}' rows have different lengths {sorted(widths)}; "
                                  "they cannot form one tensor")
        shape = [len(values), widths.pop() if widths else 0]
        flat = [e for row in values for e in row]
        if datatype == "BYTES":
            flat = [e.encode("utf-8") for e in flat]
    if datatype == "BYTES":
        raw = b"".join(struct.pack("<I", len(e)) + e for e in flat)
    else:
        raw = np.asarray(flat, dtype=DTYPES[datatype]).tobytes()
    return oip.ModelInferResponse.InferOutputTensor(name=name, datatype=datatype, shape=shape), raw


def raw_elements(datatype: str, raw: bytes, tensor: str) -> list[Any]:
    """Raw contents as a flat list of elements (BYTES ones as bytes): what encode_output packed."""
    if datatype == "BYTES":
        return split_bytes(raw, tensor)
    elements: list[Any] = np.frombuffer(raw, dtype=DTYPES[datatype]).tolist()
    return elements
