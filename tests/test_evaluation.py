"""Classification metrics (serving.evaluation.score) checked against scikit-learn.

Definition kanri uses, and that these tests pin down:
- accuracy, per-label precision/recall/F1 and the confusion matrix are over the sorted union of
  true and predicted labels (sklearn: labels=sorted(set(y_true) | set(y_pred)), zero_division=0);
- the macro averages are over the labels that occur as *true* labels only, i.e.
  precision_recall_fscore_support(y_true, y_pred, labels=sorted(set(y_true)), average="macro",
  zero_division=0). A label that is predicted but never true counts as a false positive in the
  precision of the true labels, but does not add a 0 to the average.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from kanri.serving.evaluation import score

# "cat" is never predicted; "fox" is predicted but never true.
PAIRS = [("cat", "dog"), ("cat", "fox"), ("dog", "dog"), ("dog", "dog"), ("dog", "fox"),
         ("bird", "bird"), ("bird", "dog"), ("bird", "bird")]


def sklearn_reference(pairs: list[tuple[str, str]]) -> dict:
    y_true = [t for t, _ in pairs]
    y_pred = [p for _, p in pairs]
    union = sorted(set(y_true) | set(y_pred))
    true_labels = sorted(set(y_true))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=true_labels, average="macro",
                                                 zero_division=0)
    per_p, per_r, per_f, per_s = precision_recall_fscore_support(y_true, y_pred, labels=union, average=None,
                                                                 zero_division=0)
    return {
        "accuracy": accuracy_score(y_true, y_pred), "precision": p, "recall": r, "f1": f, "labels": union,
        "confusion": confusion_matrix(y_true, y_pred, labels=union).tolist(),
        "per_label": list(zip(union, per_s.tolist(), per_p.tolist(), per_r.tolist(), per_f.tolist(), strict=True)),
    }


def assert_matches_sklearn(pairs: list[tuple[str, str]]) -> None:
    result, ref = score(pairs), sklearn_reference(pairs)
    assert result.count == len(pairs)
    assert result.labels == ref["labels"]
    assert result.confusion == ref["confusion"]
    assert result.accuracy == pytest.approx(ref["accuracy"])
    assert result.precision == pytest.approx(ref["precision"])
    assert result.recall == pytest.approx(ref["recall"])
    assert result.f1 == pytest.approx(ref["f1"])
    for mine, (label, support, p, r, f) in zip(result.per_label, ref["per_label"], strict=True):
        assert (mine.label, mine.support) == (label, support)
        assert (mine.precision, mine.recall, mine.f1) == pytest.approx((p, r, f))


def test_matches_sklearn_with_a_never_predicted_and_a_never_true_label() -> None:
    assert_matches_sklearn(PAIRS)


def test_known_values_by_hand() -> None:
    result = score(PAIRS)
    assert result.labels == ["bird", "cat", "dog", "fox"]
    assert result.confusion == [[2, 0, 1, 0],   # bird
                                [0, 0, 1, 1],   # cat: never predicted
                                [0, 0, 2, 1],   # dog
                                [0, 0, 0, 0]]   # fox: never true
    assert result.accuracy == pytest.approx(4 / 8)
    by_label = {s.label: s for s in result.per_label}
    assert by_label["cat"].precision == 0.0 and by_label["cat"].recall == 0.0 and by_label["cat"].f1 == 0.0
    assert by_label["fox"].support == 0 and by_label["fox"].precision == 0.0
    assert by_label["dog"].precision == pytest.approx(2 / 4) and by_label["dog"].recall == pytest.approx(2 / 3)
    # macro over bird, cat, dog (fox is never true): precision (1 + 0 + 0.5) / 3
    assert result.precision == pytest.approx(1.5 / 3)
    assert result.recall == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)
    # and not the union-wide sklearn default, which would average in fox's 0
    default = precision_recall_fscore_support([t for t, _ in PAIRS], [p for _, p in PAIRS], average="macro",
                                              zero_division=0)
    assert result.precision != pytest.approx(default[0])


def test_perfect_predictions() -> None:
    result = score([("a", "a"), ("b", "b"), ("b", "b")])
    assert (result.accuracy, result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0, 1.0)
    assert result.confusion == [[1, 0], [0, 2]]


def test_no_pairs_scores_zero() -> None:
    result = score([])
    assert (result.count, result.accuracy, result.precision, result.recall, result.f1) == (0, 0.0, 0.0, 0.0, 0.0)
    assert result.labels == [] and result.confusion == [] and result.per_label == []


LABEL_PAIRS = st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from("abcdef")), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(LABEL_PAIRS)
def test_property_confusion_matrix_is_consistent(pairs: list[tuple[str, str]]) -> None:
    result = score(pairs)
    assert sum(map(sum, result.confusion)) == result.count == len(pairs)
    diagonal = sum(result.confusion[i][i] for i in range(len(result.labels)))
    assert diagonal / result.count == pytest.approx(result.accuracy)
    assert [sum(row) for row in result.confusion] == [s.support for s in result.per_label]
    assert 0.0 <= result.f1 <= 1.0 and 0.0 <= result.precision <= 1.0 and 0.0 <= result.recall <= 1.0


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")  # sklearn's, for one-label data
@settings(max_examples=40, deadline=None)
@given(LABEL_PAIRS)
def test_property_matches_sklearn(pairs: list[tuple[str, str]]) -> None:
    assert_matches_sklearn(pairs)
