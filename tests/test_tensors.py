"""Open Inference Protocol tensors ⇄ the predictor's Python values (serving.tensors)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanri.serving._pb import open_inference_pb2 as oip
from kanri.serving.errors import InvalidInput, PredictorFailed
from kanri.serving.tensors import DATATYPE, decode_input, encode_output, input_shape

Tensor = oip.ModelInferRequest.InferInputTensor
Contents = oip.InferTensorContents

NUMPY = {"INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "UINT8": "<u1", "UINT16": "<u2",
         "UINT32": "<u4", "UINT64": "<u8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}


def pack_bytes(items: list[bytes]) -> bytes:
    """The BYTES raw layout: each element prefixed by its 4-byte little-endian length."""
    return b"".join(struct.pack("<I", len(i)) + i for i in items)


def unpack_bytes(raw: bytes) -> list[bytes]:
    items, offset = [], 0
    while offset < len(raw):
        (size,) = struct.unpack_from("<I", raw, offset)
        items.append(raw[offset + 4:offset + 4 + size])
        offset += 4 + size
    assert offset == len(raw)
    return items


def raw_numeric(datatype: str, shape: list[int], values: list) -> tuple[Tensor, bytes]:
    raw = np.asarray(values, dtype=NUMPY[datatype]).tobytes()
    return Tensor(name="input", datatype=datatype, shape=shape), raw


# --- decoding, from raw_input_contents -----------------------------------------------------------


def test_str_from_raw_bytes_is_a_batch_of_utf8_texts() -> None:
    tensor = Tensor(name="input", datatype="BYTES", shape=[3])
    assert decode_input(tensor, pack_bytes(["héllo".encode(), b"", "日本".encode()]), str) == ["héllo", "", "日本"]


def test_bytes_from_raw_keeps_arbitrary_bytes_and_accepts_batch_by_one() -> None:
    tensor = Tensor(name="input", datatype="BYTES", shape=[2, 1])
    data = [b"\x00\xff\x80", b"x" * 300]
    assert decode_input(tensor, pack_bytes(data), bytes) == data


@pytest.mark.parametrize("datatype", ["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"])
def test_list_int_from_raw_every_integer_datatype(datatype: str) -> None:
    tensor, raw = raw_numeric(datatype, [2, 3], [[1, 2, 3], [4, 5, 127]])
    decoded = decode_input(tensor, raw, list[int])
    assert decoded == [[1, 2, 3], [4, 5, 127]]
    assert all(type(v) is int for row in decoded for v in row)


def test_list_int_raw_is_little_endian_and_keeps_extremes() -> None:
    values = [-(2**63), 2**63 - 1, -1, 0]
    raw = struct.pack("<4q", *values)
    assert decode_input(Tensor(name="x", datatype="INT64", shape=[4]), raw, list[int]) == [values]


def test_list_int_one_input_of_shape_n_versus_a_batch() -> None:
    tensor, raw = raw_numeric("INT32", [4], [7, 8, 9, 10])
    assert decode_input(tensor, raw, list[int]) == [[7, 8, 9, 10]]
    tensor, raw = raw_numeric("INT32", [4, 1], [7, 8, 9, 10])
    assert decode_input(tensor, raw, list[int]) == [[7], [8], [9], [10]]


@pytest.mark.parametrize("datatype", ["FP16", "FP32", "FP64"])
def test_list_float_from_raw_every_float_datatype(datatype: str) -> None:
    tensor, raw = raw_numeric(datatype, [2, 2], [[0.5, -1.25], [2.0, 1024.0]])  # exact in FP16 too
    decoded = decode_input(tensor, raw, list[float])
    assert decoded == [[0.5, -1.25], [2.0, 1024.0]]
    assert all(type(v) is float for row in decoded for v in row)


def test_list_float_accepts_integer_tensors_as_floats() -> None:
    tensor, raw = raw_numeric("INT64", [3], [1, -2, 3])
    decoded = decode_input(tensor, raw, list[float])
    assert decoded == [[1.0, -2.0, 3.0]]
    assert all(type(v) is float for v in decoded[0])


def test_list_str_from_raw_rows_of_texts() -> None:
    tensor = Tensor(name="input", datatype="BYTES", shape=[2, 2])
    raw = pack_bytes([b"a", "ü".encode(), b"", b"dd"])
    assert decode_input(tensor, raw, list[str]) == [["a", "ü"], ["", "dd"]]


def test_empty_batch_decodes_to_no_inputs() -> None:
    assert decode_input(Tensor(name="i", datatype="BYTES", shape=[0]), b"", str) == []
    assert decode_input(Tensor(name="i", datatype="INT64", shape=[0, 5]), b"", list[int]) == []


# --- decoding, from the typed contents fields ----------------------------------------------------


def test_str_and_bytes_from_bytes_contents() -> None:
    tensor = Tensor(name="t", datatype="BYTES", shape=[2], contents=Contents(bytes_contents=[b"hi", "ö".encode()]))
    assert decode_input(tensor, None, str) == ["hi", "ö"]
    assert decode_input(tensor, None, bytes) == [b"hi", "ö".encode()]


@pytest.mark.parametrize(("datatype", "field"), [
    ("INT8", "int_contents"), ("INT16", "int_contents"), ("INT32", "int_contents"), ("INT64", "int64_contents"),
    ("UINT8", "uint_contents"), ("UINT16", "uint_contents"), ("UINT32", "uint_contents"),
    ("UINT64", "uint64_contents"),
])
def test_list_int_from_typed_contents(datatype: str, field: str) -> None:
    tensor = Tensor(name="t", datatype=datatype, shape=[2, 2], contents=Contents(**{field: [1, 2, 3, 4]}))
    assert decode_input(tensor, None, list[int]) == [[1, 2], [3, 4]]


@pytest.mark.parametrize(("datatype", "field"), [("FP32", "fp32_contents"), ("FP64", "fp64_contents"),
                                                 ("INT32", "int_contents")])
def test_list_float_from_typed_contents(datatype: str, field: str) -> None:
    tensor = Tensor(name="t", datatype=datatype, shape=[3], contents=Contents(**{field: [1, 2.5 if "FP" in datatype
                                                                                        else 2, -4]}))
    decoded = decode_input(tensor, None, list[float])
    assert decoded == [[1.0, 2.5 if "FP" in datatype else 2.0, -4.0]]
    assert all(type(v) is float for v in decoded[0])


def test_list_str_from_bytes_contents() -> None:
    tensor = Tensor(name="t", datatype="BYTES", shape=[1, 3], contents=Contents(bytes_contents=[b"a", b"b", b"c"]))
    assert decode_input(tensor, None, list[str]) == [["a", "b", "c"]]


def test_fp16_without_raw_contents_is_invalid_input() -> None:
    # FP16 has no typed contents field in the protocol: it can only come as raw bytes.
    tensor = Tensor(name="t", datatype="FP16", shape=[1])
    with pytest.raises(InvalidInput, match=r"FP16.*raw_input_contents"):
        decode_input(tensor, None, list[float])


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value_type", "datatype", "expected"), [
    (str, "INT64", "this model takes str as BYTES"),
    (bytes, "FP32", "this model takes bytes as BYTES"),
    (list[str], "INT8", "this model takes list[str] as BYTES"),
    (list[int], "FP32", "this model takes list[int] as INT16 or INT32 or INT64 or INT8 or UINT16"),
    (list[int], "BYTES", "this model takes list[int] as"),
    (list[float], "BYTES", "this model takes list[float] as FP16 or FP32 or FP64 or INT16"),
    (list[float], "BOOL", "this model takes list[float]"),
])
def test_wrong_datatype_names_what_is_expected(value_type: object, datatype: str, expected: str) -> None:
    tensor = Tensor(name="pixels", datatype=datatype, shape=[1])
    with pytest.raises(InvalidInput, match=f"'pixels' has datatype {datatype}; ") as info:
        decode_input(tensor, b"\x00" * 8, value_type)
    assert expected in info.value.message


def test_missing_datatype_is_reported_as_none() -> None:
    with pytest.raises(InvalidInput, match=r"datatype \(none\)"):
        decode_input(Tensor(name="t", shape=[1]), None, str)


def test_raw_size_mismatch() -> None:
    tensor = Tensor(name="t", datatype="INT64", shape=[3])
    with pytest.raises(InvalidInput, match=r"has 16 raw bytes; shape \[3\] of INT64 needs 24"):
        decode_input(tensor, struct.pack("<2q", 1, 2), list[int])


def test_contents_element_count_must_match_shape() -> None:
    tensor = Tensor(name="t", datatype="INT64", shape=[2, 2], contents=Contents(int64_contents=[1, 2, 3]))
    with pytest.raises(InvalidInput, match=r"has 3 elements; its shape \[2, 2\] needs 4"):
        decode_input(tensor, None, list[int])


def test_bytes_element_count_must_match_shape() -> None:
    tensor = Tensor(name="t", datatype="BYTES", shape=[3])
    with pytest.raises(InvalidInput, match="has 2 elements"):
        decode_input(tensor, pack_bytes([b"a", b"b"]), str)


def test_truncated_bytes_length_prefix() -> None:
    tensor = Tensor(name="t", datatype="BYTES", shape=[2])
    with pytest.raises(InvalidInput, match="truncated BYTES length prefix at offset 5"):
        decode_input(tensor, pack_bytes([b"a"]) + b"\x01\x00", str)


def test_bytes_element_overrunning_the_data() -> None:
    tensor = Tensor(name="t", datatype="BYTES", shape=[1])
    with pytest.raises(InvalidInput, match="element of 10 bytes overruns"):
        decode_input(tensor, struct.pack("<I", 10) + b"abc", bytes)


@pytest.mark.parametrize("value_type", [str, list[str]])
def test_non_utf8_text_is_invalid_input(value_type: object) -> None:
    tensor = Tensor(name="t", datatype="BYTES", shape=[1])
    with pytest.raises(InvalidInput, match="not UTF-8"):
        decode_input(tensor, pack_bytes([b"\xff\xfe"]), value_type)


def test_non_utf8_is_fine_for_bytes() -> None:
    assert decode_input(Tensor(name="t", datatype="BYTES", shape=[1]), pack_bytes([b"\xff"]), bytes) == [b"\xff"]


@pytest.mark.parametrize("shape", [[-1], [-1, 3], [2, -3]])
def test_negative_dimension(shape: list[int]) -> None:
    with pytest.raises(InvalidInput, match="negative dimension"):
        decode_input(Tensor(name="t", datatype="INT64", shape=shape), b"", list[int])


def test_rank_three_is_refused_for_lists() -> None:
    tensor, raw = raw_numeric("INT64", [1, 2, 2], [1, 2, 3, 4])
    with pytest.raises(InvalidInput, match=r"must have shape \[N\] or \[batch, N\], got \[1, 2, 2\]"):
        decode_input(tensor, raw, list[int])


@pytest.mark.parametrize("shape", [[1, 1, 1], [2, 2], [1, 2]])
def test_text_shapes_other_than_batch_or_batch_by_one_are_refused(shape: list[int]) -> None:
    count = int(np.prod(shape))
    tensor = Tensor(name="t", datatype="BYTES", shape=shape)
    with pytest.raises(InvalidInput, match=r"must have shape \[batch\] or \[batch, 1\]"):
        decode_input(tensor, pack_bytes([b"a"] * count), str)


def test_uint64_beyond_int64_is_invalid_input() -> None:
    tensor, raw = raw_numeric("UINT64", [1, 2], [[2**63 - 1, 2**64 - 1]])
    with pytest.raises(InvalidInput, match=f"holds {2**64 - 1}, beyond the int64 range"):
        decode_input(tensor, raw, list[int])
    tensor = Tensor(name="t", datatype="UINT64", shape=[1], contents=Contents(uint64_contents=[2**63]))
    with pytest.raises(InvalidInput, match="beyond the int64 range"):
        decode_input(tensor, None, list[int])
    tensor, raw = raw_numeric("UINT64", [1], [2**63 - 1])
    assert decode_input(tensor, raw, list[int]) == [[2**63 - 1]]
    tensor, raw = raw_numeric("UINT64", [1], [2**64 - 1])
    assert decode_input(tensor, raw, list[float]) == [[float(2**64 - 1)]]  # floats have the range


def test_input_shape_for_metadata() -> None:
    assert input_shape(str) == [-1] and input_shape(bytes) == [-1]
    assert input_shape(list[int]) == [-1, -1] and input_shape(list[str]) == [-1, -1]


# --- encoding --------------------------------------------------------------------------------------


def test_encode_str_outputs() -> None:
    tensor, raw = encode_output("label", ["ä", "", "xyz"], "str")
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("label", "BYTES", [3])
    assert unpack_bytes(raw) == ["ä".encode(), b"", b"xyz"]


def test_encode_bytes_outputs() -> None:
    tensor, raw = encode_output("label", [b"\x00\xff", b"a"], "bytes")
    assert (tensor.datatype, list(tensor.shape)) == ("BYTES", [2])
    assert unpack_bytes(raw) == [b"\x00\xff", b"a"]


def test_encode_list_int_outputs_as_int64() -> None:
    rows = [[1, -2, 2**62], [0, 5, -(2**63)]]
    tensor, raw = encode_output("label", rows, "list[int]")
    assert (tensor.datatype, list(tensor.shape)) == ("INT64", [2, 3])
    assert np.frombuffer(raw, dtype="<i8").reshape(2, 3).tolist() == rows


def test_encode_list_float_outputs_as_fp64() -> None:
    rows = [[0.1, 2.5], [-1e300, 3.0]]
    tensor, raw = encode_output("scores", rows, "list[float]")
    assert (tensor.datatype, list(tensor.shape)) == ("FP64", [2, 2])
    assert np.frombuffer(raw, dtype="<f8").reshape(2, 2).tolist() == rows


def test_encode_list_str_outputs() -> None:
    tensor, raw = encode_output("label", [["a", "bé"], ["", "c"]], "list[str]")
    assert (tensor.datatype, list(tensor.shape)) == ("BYTES", [2, 2])
    assert unpack_bytes(raw) == [b"a", "bé".encode(), b"", b"c"]


def test_encode_empty_batch() -> None:
    tensor, raw = encode_output("scores", [], "list[float]")
    assert list(tensor.shape) == [0, 0] and raw == b""
    tensor, raw = encode_output("label", [], "str")
    assert list(tensor.shape) == [0] and raw == b""


@pytest.mark.parametrize("type_name", ["list[int]", "list[float]", "list[str]"])
def test_ragged_rows_are_a_predictor_failure(type_name: str) -> None:
    element = {"list[int]": 1, "list[float]": 1.0, "list[str]": "a"}[type_name]
    with pytest.raises(PredictorFailed, match=r"rows have different lengths \[1, 2\]"):
        encode_output("label", [[element], [element, element]], type_name)


def test_datatypes_described_in_metadata_match_what_is_encoded() -> None:
    for name, datatype in DATATYPE.items():
        value = {"str": "a", "bytes": b"a", "list[int]": [1], "list[float]": [1.0], "list[str]": ["a"]}[name]
        assert encode_output("o", [value], name)[0].datatype == datatype


# --- round trips -----------------------------------------------------------------------------------

TEXT = st.text(max_size=8)
ROUND_TRIP = {
    "str": st.lists(TEXT, max_size=5),
    "bytes": st.lists(st.binary(max_size=8), max_size=5),
    "list[int]": st.integers(0, 4).flatmap(
        lambda n: st.lists(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n), min_size=1, max_size=4)),
    "list[float]": st.integers(0, 4).flatmap(
        lambda n: st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=n, max_size=n),
                           min_size=1, max_size=4)),
    "list[str]": st.integers(0, 3).flatmap(
        lambda n: st.lists(st.lists(TEXT, min_size=n, max_size=n), min_size=1, max_size=4)),
}
TYPES = {"str": str, "bytes": bytes, "list[int]": list[int], "list[float]": list[float], "list[str]": list[str]}


@pytest.mark.parametrize("type_name", list(ROUND_TRIP))
def test_encoded_outputs_decode_back_to_the_same_values(type_name: str) -> None:
    @settings(max_examples=40, deadline=None)
    @given(ROUND_TRIP[type_name])
    def check(values: list) -> None:
        out, raw = encode_output("label", values, type_name)
        tensor = Tensor(name=out.name, datatype=out.datatype, shape=out.shape)
        assert decode_input(tensor, raw, TYPES[type_name]) == values

    check()


def test_a_request_may_not_carry_more_inputs_than_the_limit() -> None:
    from kanri.serving.tensors import MAX_BATCH

    tensor = oip.ModelInferRequest.InferInputTensor(name="x", datatype="BYTES", shape=[MAX_BATCH + 1, 0])
    with pytest.raises(InvalidInput, match=f"holds {MAX_BATCH + 1} inputs"):
        decode_input(tensor, b"", list[str])
