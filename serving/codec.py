"""Conversions between kanri's wire messages and the Python values predictors see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import struct_pb2

from ._pb import serving_pb2 as pb
from .errors import InvalidInput
from .predictor import type_name

# Value oneof field → the predictor type name it carries.
KIND_TYPES = {"str": "str", "bytes": "bytes", "ints": "list[int]", "floats": "list[float]", "strs": "list[str]"}


def from_value(value: pb.Value, expected: Any, what: str = "input") -> Any:
    """Decode a Value, refusing one of another type than the predictor declared."""
    kind = value.WhichOneof("kind")
    expected_name = type_name(expected)
    if kind is None:
        raise InvalidInput(f"{what} is missing: expected {expected_name}")
    decoded: Any = getattr(value, kind)
    if kind != "str" and kind != "bytes":
        decoded = list(decoded.values)
    if KIND_TYPES[kind] == expected_name or (not decoded and expected_name.startswith("list[")):
        return decoded
    if kind == "ints" and expected_name == "list[float]":
        return [float(v) for v in decoded]
    raise InvalidInput(f"{what} must be {expected_name}, got {KIND_TYPES[kind]}")


def to_value(data: Any, value_type: Any) -> pb.Value:
    """Encode data already checked against value_type (see predictor.check_value)."""
    return _ENCODERS[type_name(value_type)](data)


_ENCODERS: dict[str, Callable[[Any], pb.Value]] = {
    "str": lambda data: pb.Value(str=data),
    "bytes": lambda data: pb.Value(bytes=data),
    "list[int]": lambda data: pb.Value(ints=pb.IntList(values=data)),
    "list[float]": lambda data: pb.Value(floats=pb.FloatList(values=data)),
    "list[str]": lambda data: pb.Value(strs=pb.StringList(values=data)),
}


def encode_value(data: Any) -> pb.Value:
    """A Python value as the Value oneof it fits: str, bytes, or a list of ints, floats or strs."""
    if isinstance(data, str):
        return pb.Value(str=data)
    if isinstance(data, bytes | bytearray):
        return pb.Value(bytes=bytes(data))
    if hasattr(data, "tolist"):  # numpy arrays
        data = data.tolist()
    if isinstance(data, list | tuple):
        items = list(data)
        if all(isinstance(v, str) for v in items) and items:
            return pb.Value(strs=pb.StringList(values=items))
        if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return pb.Value(ints=pb.IntList(values=items))
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
            return pb.Value(floats=pb.FloatList(values=items))
    raise TypeError(f"cannot send {type(data).__name__}: inputs are str, bytes, or a list of int, float or str")


def decode_value(value: pb.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind in ("str", "bytes"):
        return getattr(value, kind)
    return list(getattr(value, kind).values) if kind else None


def label_key(data: Any) -> str:
    """A stable text form of an output, used to group labels in evaluations."""
    if isinstance(data, str):
        return data
    if isinstance(data, bytes):
        return data.decode("utf-8", "backslashreplace")
    return "[" + ",".join(str(v) for v in data) + "]"


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return {key: _plain(value) for key, value in struct.fields.items()}


def _plain(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [_plain(v) for v in value.list_value.values]
    if kind == "null_value" or kind is None:
        return None
    return getattr(value, kind)


def dict_to_struct(data: dict[str, Any] | None) -> struct_pb2.Struct | None:
    if not data:
        return None
    struct = struct_pb2.Struct()
    try:
        struct.update(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"option must be JSON-like (dicts, lists, str, numbers, bool, None): {exc}") from None
    return struct
