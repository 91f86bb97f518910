"""Classification metrics over (true label, predicted label) pairs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LabelScore:
    label: str
    support: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    count: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    per_label: list[LabelScore]
    labels: list[str]
    confusion: list[list[int]]  # rows: true label, columns: predicted label


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def score(pairs: list[tuple[str, str]]) -> Evaluation:
    """Accuracy, per-label and macro-averaged precision/recall/F1, and the confusion matrix."""
    labels = sorted({t for t, _ in pairs} | {p for _, p in pairs})
    index = {label: i for i, label in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for true, predicted in pairs:
        confusion[index[true]][index[predicted]] += 1
    support = Counter(t for t, _ in pairs)
    per_label = []
    for i, label in enumerate(labels):
        hits = confusion[i][i]
        precision = _ratio(hits, sum(row[i] for row in confusion))
        recall = _ratio(hits, support[label])
        f1 = _ratio(2 * precision * recall, 1) / (precision + recall) if precision + recall else 0.0
        per_label.append(LabelScore(label, support[label], precision, recall, f1))
    # Macro averages over labels that occur in the data, as scikit-learn does for true labels.
    present = [s for s in per_label if s.support] or per_label
    n = len(present)
    return Evaluation(
        count=len(pairs),
        accuracy=_ratio(sum(confusion[i][i] for i in range(len(labels))), len(pairs)),
        precision=sum(s.precision for s in present) / n if n else 0.0,
        recall=sum(s.recall for s in present) / n if n else 0.0,
        f1=sum(s.f1 for s in present) / n if n else 0.0,
        per_label=per_label,
        labels=labels,
        confusion=confusion,
    )
