"""kanri wire values ⇄ Python values (serving.codec)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanri.serving._pb import serving_pb2 as pb
from kanri.serving.codec import dict_to_struct, from_value, label_key, struct_to_dict, to_value
from kanri.serving.errors import InvalidInput

VALUES = {
    "str": (str, pb.Value(str="héllo"), "héllo"),
    "bytes": (bytes, pb.Value(bytes=b"\x00\xff"), b"\x00\xff"),
    "ints": (list[int], pb.Value(ints=pb.IntList(values=[1, -2, 2**62])), [1, -2, 2**62]),
    "floats": (list[float], pb.Value(floats=pb.FloatList(values=[0.5, -1.25])), [0.5, -1.25]),
    "strs": (list[str], pb.Value(strs=pb.StringList(values=["a", ""])), ["a", ""]),
}


@pytest.mark.parametrize("kind", list(VALUES))
def test_from_value_of_the_declared_type(kind: str) -> None:
    value_type, message, expected = VALUES[kind]
    assert from_value(message, value_type) == expected
    assert from_value(to_value(expected, value_type), value_type) == expected


@pytest.mark.parametrize(("message", "expected", "error"), [
    (pb.Value(str="12"), list[int], "input must be list[int], got str"),
    (pb.Value(bytes=b"x"), str, "input must be str, got bytes"),
    (pb.Value(str="x"), bytes, "input must be bytes, got str"),
    (pb.Value(floats=pb.FloatList(values=[1.0])), list[int], "input must be list[int], got list[float]"),
    (pb.Value(strs=pb.StringList(values=["a"])), str, "input must be str, got list[str]"),
    (pb.Value(ints=pb.IntList(values=[1])), list[str], "input must be list[str], got list[int]"),
    (pb.Value(ints=pb.IntList(values=[])), str, "input must be str, got list[int]"),
    (pb.Value(), list[float], "input is missing: expected list[float]"),
])
def test_from_value_refuses_other_types(message: pb.Value, expected: Any, error: str) -> None:
    with pytest.raises(InvalidInput) as info:
        from_value(message, expected)
    assert info.value.message == error


def test_from_value_names_what_it_decodes() -> None:
    with pytest.raises(InvalidInput, match=r"^example 3 label must be str, got list\[int\]$"):
        from_value(pb.Value(ints=pb.IntList(values=[1])), str, "example 3 label")


def test_ints_are_accepted_as_floats() -> None:
    decoded = from_value(pb.Value(ints=pb.IntList(values=[1, -3])), list[float])
    assert decoded == [1.0, -3.0] and all(type(v) is float for v in decoded)


@pytest.mark.parametrize("kind", ["ints", "floats", "strs"])
@pytest.mark.parametrize("expected", [list[int], list[float], list[str]])
def test_an_empty_list_is_any_list(kind: str, expected: Any) -> None:
    # An empty repeated field cannot say its element type, so it fits every list type.
    message = pb.Value(**{kind: getattr(pb, {"ints": "IntList", "floats": "FloatList", "strs": "StringList"}[kind])()})
    assert from_value(message, expected) == []


def test_to_value_sets_the_kind_of_the_type() -> None:
    assert to_value("a", str).WhichOneof("kind") == "str"
    assert to_value(b"a", bytes).WhichOneof("kind") == "bytes"
    assert to_value([1], list[int]).WhichOneof("kind") == "ints"
    assert to_value([1.0], list[float]).WhichOneof("kind") == "floats"
    assert to_value(["a"], list[str]).WhichOneof("kind") == "strs"
    assert list(to_value([], list[float]).floats.values) == []


def test_label_key() -> None:
    assert label_key("7") == "7"
    assert label_key(b"ab\xff") == "ab\\xff"
    assert label_key([1, 2]) == "[1,2]"
    assert label_key(["a", "b"]) == "[a,b]"
    assert label_key([]) == "[]"


def test_struct_round_trip_of_nested_values() -> None:
    data = {"depth": {"list": [1, "two", None, True, {"deeper": [False, []]}], "empty": {}},
            "none": None, "yes": True, "no": False, "pi": 3.25, "text": "ü"}
    back = struct_to_dict(dict_to_struct(data))
    assert back == data
    assert back["yes"] is True and back["no"] is False and back["depth"]["list"][3] is True
    assert back["none"] is None and back["depth"]["list"][2] is None
    assert back["depth"]["list"][0] == 1.0 and isinstance(back["depth"]["list"][0], float)  # JSON numbers


def test_no_option_is_no_struct() -> None:
    assert dict_to_struct(None) is None
    assert dict_to_struct({}) is None


@pytest.mark.parametrize("data", [{"a": object()}, {"a": b"bytes"}, {"a": {1, 2}}, {1: "int key"},
                                  {"a": [1, {"b": object()}]}])
def test_non_json_options_are_value_errors(data: dict) -> None:
    with pytest.raises(ValueError, match="option must be JSON-like"):
        dict_to_struct(data)


JSON = st.recursive(
    st.none() | st.booleans() | st.text(max_size=5) | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=5), JSON, min_size=1, max_size=4))
def test_property_struct_round_trip(data: dict[str, Any]) -> None:
    back = struct_to_dict(dict_to_struct(data))
    assert back == data

    def same_types(a: Any, b: Any) -> None:
        if isinstance(a, dict):
            for key in a:
                same_types(a[key], b[key])
        elif isinstance(a, list):
            for x, y in zip(a, b, strict=True):
                same_types(x, y)
        elif isinstance(a, bool) or a is None or isinstance(a, str):
            assert type(a) is type(b)
        else:
            assert isinstance(b, float) and math.isclose(a, b)

    same_types(data, back)
