"""The digits example trains, loads the way `kanri serve` does, and predicts well."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.tree import DecisionTreeClassifier

from kanri.serving.predictor import PredictInterface, check_result, load_predictor_class

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits"


@pytest.fixture(scope="module")
def artifacts(digits_models: dict[str, Path]) -> dict[str, Path]:
    return digits_models


@pytest.fixture(scope="module")
def held_out(artifacts: dict[str, Path]) -> list[dict]:
    lines = artifacts["digits-test.jsonl"].read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module", params=["digits-v1.skops", "digits-v2.skops"])
def predictor(request: pytest.FixtureRequest, artifacts: dict[str, Path]) -> PredictInterface:
    predictor = load_predictor_class(f"{EXAMPLE / 'predictor.py'}:Digits")()
    predictor.load_model(str(artifacts[request.param]))
    predictor.warm_up()
    return predictor


def test_held_out_accuracy(predictor: PredictInterface, held_out: list[dict]) -> None:
    inputs = [row["input"] for row in held_out]
    results = predictor.predict_batch(inputs, [{} for _ in inputs])
    results = [check_result(r, predictor.output_type) for r in results]
    correct = sum(r.label == row["label"] for r, row in zip(results, held_out, strict=True))
    assert correct / len(held_out) > 0.9
    assert all(len(r.scores) == 10 and abs(sum(r.scores) - 1) < 1e-6 for r in results)


def test_predict_batch_matches_predict(predictor: PredictInterface, held_out: list[dict]) -> None:
    inputs = [row["input"] for row in held_out[:25]]
    batch = predictor.predict_batch(inputs, [{} for _ in inputs])
    for value, result in zip(inputs, batch, strict=True):
        single = predictor.predict(value, {})
        assert single.label == result.label
        assert single.score == pytest.approx(result.score, abs=1e-9)


@pytest.mark.parametrize("bad", [[0] * 63, [0] * 65, []])
def test_wrong_length_is_refused(predictor: PredictInterface, bad: list[int]) -> None:
    with pytest.raises(ValueError, match="expected 64 pixel values"):
        predictor.predict(bad, {})


def test_bad_row_in_batch_is_named(predictor: PredictInterface) -> None:
    with pytest.raises(ValueError, match="input 1: expected 64 pixel values"):
        predictor.predict_batch([[0] * 64, [0] * 10], [{}, {}])
    with pytest.raises(ValueError, match=r"input 1: pixel values must be in 0\.\.16"):
        predictor.predict_batch([[0] * 64, [17] * 64], [{}, {}])


def test_type_outside_allow_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tree.skops"
    sio.dump(DecisionTreeClassifier().fit([[0], [1]], [0, 1]), path)  # holds sklearn.tree._tree.Tree
    with pytest.raises(ValueError, match=re.escape("sklearn.tree._tree.Tree")):
        load_predictor_class(f"{EXAMPLE / 'predictor.py'}:Digits")().load_model(str(path))
