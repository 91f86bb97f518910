"""The predictor contract (serving.predictor): value checks, result checks, loading predictor classes."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from kanri.serving.errors import InvalidInput, PredictorFailed
from kanri.serving.predictor import (
    PredictInterface,
    PredictResult,
    check_result,
    check_value,
    has_batch,
    load_predictor_class,
    type_name,
)
from tests.support.predictors import BatchEcho, Echo, Floats

WriteFile = Callable[..., Path]

# --- check_value -----------------------------------------------------------------------------------


def test_type_names() -> None:
    assert [type_name(t) for t in (str, bytes, list[int], list[float], list[str])] == \
        ["str", "bytes", "list[int]", "list[float]", "list[str]"]
    with pytest.raises(TypeError, match="unsupported value type"):
        type_name(dict)
    with pytest.raises(TypeError, match="unsupported value type"):
        type_name(list[bytes])


def test_str_and_bytes() -> None:
    assert check_value("héllo", str, "input") == "héllo"
    assert check_value(bytearray(b"\x00\x01"), bytes, "input") == b"\x00\x01"
    assert type(check_value(bytearray(b"x"), bytes, "input")) is bytes
    with pytest.raises(InvalidInput, match=r"^input must be str, got bytes$"):
        check_value(b"text", str, "input")
    with pytest.raises(InvalidInput, match=r"^input must be bytes, got str$"):
        check_value("text", bytes, "input")
    with pytest.raises(InvalidInput, match=r"^label must be str, got a list of 2 elements$"):
        check_value(["a", "b"], str, "label")


def test_ints_refuse_bools_and_fractions_but_take_integral_floats() -> None:
    assert check_value([1, -2, 3.0], list[int], "input") == [1, -2, 3]
    assert all(type(v) is int for v in check_value([1, 3.0], list[int], "input"))
    assert check_value((4, 5), list[int], "input") == [4, 5]  # tuples are lists too
    with pytest.raises(InvalidInput, match=r"^input must be list\[int\]: element True is not an int$"):
        check_value([1, True], list[int], "input")
    with pytest.raises(InvalidInput, match=r"element 1.5 is not an int"):
        check_value([1.5], list[int], "input")
    with pytest.raises(InvalidInput, match="element nan is not an int"):
        check_value([float("nan")], list[int], "input")
    with pytest.raises(InvalidInput, match="element '1' is not an int"):
        check_value(["1"], list[int], "input")
    with pytest.raises(InvalidInput, match=r"^input must be list\[int\], got int$"):
        check_value(5, list[int], "input")


def test_floats_refuse_bools_and_non_finite_values() -> None:
    result = check_value([1, 2.5, -3], list[float], "input")
    assert result == [1.0, 2.5, -3.0] and all(type(v) is float for v in result)
    for bad, why in [(float("nan"), "nan is not finite"), (float("inf"), "inf is not finite"),
                     (float("-inf"), "-inf is not finite"), (False, "False is not a number"),
                     ("1.0", "'1.0' is not a number"), (None, "None is not a number")]:
        with pytest.raises(InvalidInput, match=rf"^input must be list\[float\]: element {why}$"):
            check_value([0.5, bad], list[float], "input")


def test_numpy_scalars_are_numbers_but_numpy_bools_are_not() -> None:
    ints = check_value([np.int64(3), np.uint8(4), np.float32(5.0)], list[int], "label")
    assert ints == [3, 4, 5] and all(type(v) is int for v in ints)
    floats = check_value([np.float32(0.5), np.int32(2), np.float64(1.5)], list[float], "label")
    assert floats == [0.5, 2.0, 1.5] and all(type(v) is float for v in floats)
    with pytest.raises(InvalidInput, match="is not an int"):
        check_value([np.bool_(True)], list[int], "label")
    with pytest.raises(InvalidInput, match="is not a number"):
        check_value([np.bool_(False)], list[float], "label")
    with pytest.raises(InvalidInput, match="is not finite"):
        check_value([np.float32("nan")], list[float], "label")


def test_values_the_wire_cannot_carry_are_refused() -> None:
    assert check_value([2**63 - 1, -(2**63)], list[int], "label") == [2**63 - 1, -(2**63)]
    with pytest.raises(InvalidInput, match="out of the int64 range"):
        check_value([2**63], list[int], "label")
    with pytest.raises(InvalidInput, match="out of the int64 range"):
        check_value([1e300], list[int], "label")
    with pytest.raises(InvalidInput, match="out of the float range"):
        check_value([10**400], list[float], "label")


def test_list_str() -> None:
    assert check_value(["a", ""], list[str], "input") == ["a", ""]
    assert check_value([], list[str], "input") == []
    with pytest.raises(InvalidInput, match=r"list\[str\]: element b'a' is not a string"):
        check_value([b"a"], list[str], "input")
    with pytest.raises(InvalidInput, match=r"^input must be list\[str\], got str$"):
        check_value("abc", list[str], "input")  # a string is not a list of strings


def test_unsupported_value_type() -> None:
    with pytest.raises(TypeError):
        check_value({}, dict, "input")


# --- check_result ----------------------------------------------------------------------------------


def test_check_result_normalises_scores() -> None:
    assert check_result(PredictResult("a", 0.5), str).score == [0.5]
    assert check_result(PredictResult("a", 1), str).score == [1.0]
    result = check_result(PredictResult([1.0, 2], [1, 2.5], {"k": "v"}), list[int])
    assert result.label == [1, 2] and result.score == [1.0, 2.5] and result.option == {"k": "v"}
    assert all(type(v) is float for v in result.score)


def test_check_result_takes_numpy_scores() -> None:
    assert check_result(PredictResult("a", np.float32(0.25)), str).score == [0.25]
    assert check_result(PredictResult("a", np.array([0.5, 0.25], dtype=np.float32)), str).score == [0.5, 0.25]
    result = check_result(PredictResult(np.str_("7"), [0.1]), str)
    assert result.label == "7"


def test_check_result_refuses_labels_the_wire_cannot_carry() -> None:
    with pytest.raises(PredictorFailed, match="out of the int64 range"):
        check_result(PredictResult([2**64], 1.0), list[int])
    with pytest.raises(PredictorFailed):
        check_result(PredictResult("a", [10**400]), str)


def test_check_result_refuses_a_wrong_label_type() -> None:
    with pytest.raises(PredictorFailed, match=r"^predictor output label must be str, got int$"):
        check_result(PredictResult(42, 1.0), str)
    with pytest.raises(PredictorFailed, match=r"predictor output label must be list\[float\]: element nan"):
        check_result(PredictResult([float("nan")], 1.0), list[float])


def test_check_result_refuses_bad_scores_and_non_results() -> None:
    with pytest.raises(PredictorFailed):
        check_result(PredictResult("a", "high"), str)  # type: ignore[arg-type]
    with pytest.raises(PredictorFailed):
        check_result(PredictResult("a", None), str)  # type: ignore[arg-type]
    with pytest.raises(PredictorFailed, match=r"^predictor returned dict, expected PredictResult$"):
        check_result({"label": "a"}, str)
    with pytest.raises(PredictorFailed, match=r"^predictor returned tuple, expected PredictResult$"):
        check_result(("a", 1.0), str)


def test_scores_property() -> None:
    assert PredictResult("a", 2).scores == [2.0]
    assert PredictResult("a", (1, 0.5)).scores == [1.0, 0.5]


def test_has_batch() -> None:
    assert has_batch(BatchEcho()) and not has_batch(Echo()) and not has_batch(Floats())


# --- load_predictor_class --------------------------------------------------------------------------


@pytest.fixture
def predictor_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteFile]:
    """Writes a predictor file with a unique name (HELPER_MODULE in its body names its helper file);
    restores sys.path and sys.modules afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    written: list[str] = []

    def write(body: str, helper: str = "") -> Path:
        stem = f"pred_{uuid.uuid4().hex}"
        written.append(stem)
        path = tmp_path / f"{stem}.py"
        path.write_text(textwrap.dedent(body).replace("HELPER_MODULE", f"{stem}_helper"))
        if helper:
            (tmp_path / f"{stem}_helper.py").write_text(textwrap.dedent(helper))
            written.append(f"{stem}_helper")
        return path

    yield write
    for stem in written:
        sys.modules.pop(f"kanri_predictor_{stem}", None)
        sys.modules.pop(stem, None)


GOOD = """
    from kanri.serving.predictor import PredictInterface, PredictResult

    class Upper(PredictInterface):
        input_type = str
        output_type = list[str]

        def load_model(self, model_path):
            pass

        def predict(self, input, option):
            return PredictResult([input.upper()], 1.0)

    class NotAPredictor:
        pass

    NOT_A_CLASS = 3

    class BadType(PredictInterface):
        input_type = dict
        output_type = str
"""


def test_load_from_a_file(predictor_file: WriteFile) -> None:
    path = predictor_file(GOOD)
    cls = load_predictor_class(f"{path}:Upper")
    assert issubclass(cls, PredictInterface) and cls.output_type == list[str]
    assert cls().predict("ab", {}).label == ["AB"]


def test_a_predictor_file_can_import_its_neighbours(predictor_file: WriteFile) -> None:
    path = predictor_file("""
        import HELPER_MODULE
        from kanri.serving.predictor import PredictInterface

        class P(PredictInterface):
            suffix = HELPER_MODULE.SUFFIX
        """, helper="SUFFIX = '!'\n")
    assert load_predictor_class(f"{path}:P").suffix == "!"


def test_load_from_a_module() -> None:
    assert load_predictor_class("tests.support.predictors:Echo") is Echo
    assert load_predictor_class("tests.support.predictors:Floats").input_type == list[float]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"predictor file .*nowhere\.py does not exist"):
        load_predictor_class(f"{tmp_path}/nowhere.py:Upper")


def test_missing_module() -> None:
    with pytest.raises(ImportError):
        load_predictor_class("tests.support.no_such_module:Echo")


@pytest.mark.parametrize("name", ["NotAPredictor", "NOT_A_CLASS", "Missing"])
def test_not_a_predictor_subclass(predictor_file: WriteFile, name: str) -> None:
    path = predictor_file(GOOD)
    with pytest.raises(ValueError, match=f"{name} is not a PredictInterface subclass"):
        load_predictor_class(f"{path}:{name}")


@pytest.mark.parametrize("reference", ["tests.support.predictors", "tests.support.predictors:", ":Echo", ""])
def test_bad_reference(reference: str) -> None:
    with pytest.raises(ValueError, match=r"must look like file.py:Class or module:Class"):
        load_predictor_class(reference)


def test_unsupported_declared_type_is_a_value_error_naming_the_class(predictor_file: WriteFile) -> None:
    # `kanri serve` reports ValueError/ImportError/SyntaxError as a usage error, so this must be one of them.
    path = predictor_file(GOOD)
    with pytest.raises(ValueError, match=r"BadType.*unsupported value type <class 'dict'>"):
        load_predictor_class(f"{path}:BadType")
