"""An evaluation's results beside those of the version the service runs now: per-label bars and the confusion matrix."""

from __future__ import annotations

from typing import Any

from rich.columns import Columns
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from kanri.console.telemetry.format import score, score_change

BAR_WIDTH = 20


def bar(value: float, style: str) -> Text:
    filled = round(max(0.0, min(value, 1.0)) * BAR_WIDTH)
    return Text.assemble(("█" * filled, style), ("░" * (BAR_WIDTH - filled), "dim"), f" {score(value)}")


def per_label_table(metrics: dict[str, Any], baseline: dict[str, Any] | None, baseline_name: str) -> Table:
    table = Table(box=None, pad_edge=False)
    table.add_column("label")
    table.add_column("support", justify="right")
    table.add_column("F1 (this version)")
    if baseline:
        table.add_column(f"F1 ({baseline_name})")
    before = {row["label"]: row for row in (baseline or {}).get("per_label", [])}
    for row in metrics.get("per_label", []):
        cells: list[Any] = [str(row["label"]), str(row.get("support", "")), bar(row["f1"], "green")]
        if baseline:
            old = before.get(row["label"])
            cells.append(bar(old["f1"], "blue") if old else Text("—", style="dim"))
        table.add_row(*cells)
    return table


def confusion_table(metrics: dict[str, Any]) -> Table | Text:
    labels, matrix = metrics.get("labels") or [], metrics.get("confusion_matrix") or []
    if not labels or not matrix:
        return Text("no confusion matrix recorded for this evaluation", style="dim")
    table = Table(title="confusion matrix (rows: true label, columns: predicted)", box=None)
    table.add_column("")
    for label in labels:
        table.add_column(str(label), justify="right")
    for i, (label, row) in enumerate(zip(labels, matrix, strict=True)):
        table.add_row(str(label), *[Text(str(n), style=("bold green" if i == j else "red") if n else "dim")
                                    for j, n in enumerate(row)])
    return table


def headline(metrics: dict[str, Any], baseline: dict[str, Any] | None) -> Columns:
    """`accuracy 0.971 (+0.013)` for each figure, side by side as the width allows, never split."""
    figures = []
    for name in ("accuracy", "precision", "recall", "f1"):
        value = metrics.get(name)
        if value is None:
            continue
        text = Text(f"{name} {score(value)}")
        old = (baseline or {}).get(name)
        if old is not None:
            delta = value - old
            text.append(f" ({score_change(delta)})", style="green" if delta >= 0 else "red")
        figures.append(text)
    return Columns(figures, padding=(0, 3))


class EvaluationScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, title: str, metrics: dict[str, Any], baseline: dict[str, Any] | None = None,
                 baseline_name: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.metrics = metrics
        self.baseline = baseline
        self.baseline_name = baseline_name

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(headline(self.metrics, self.baseline))
            if self.baseline is None and self.baseline_name:
                yield Static(f"{self.baseline_name} has no evaluation to compare with", classes="dim")
            yield Static(per_label_table(self.metrics, self.baseline, self.baseline_name))
            yield Static(confusion_table(self.metrics))
