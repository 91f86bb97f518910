"""A MetricsSource double with figures prepared by the test, for decisions that depend on what metrics say."""

from __future__ import annotations

from kanri.console.telemetry.types import Figures, MetricsHistory, MetricsSnapshot, ServiceFigures, TelemetryUnavailable


class ScriptedMetrics:
    """Each snapshot answers the next prepared figures per service (the last repeats); history answers
    `history` when given, else says it has none."""

    def __init__(self, *answers: dict[str, Figures] | TelemetryUnavailable,
                 history: MetricsHistory | None = None) -> None:
        self.answers = list(answers)
        self._history = history

    def snapshot(self, app: str, service: str | None = None) -> MetricsSnapshot | TelemetryUnavailable:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, TelemetryUnavailable):
            return answer
        return MetricsSnapshot(app, 0.0, tuple(ServiceFigures(name, f, ()) for name, f in answer.items()))

    def history(self, *args: object, **kwargs: object) -> MetricsHistory | TelemetryUnavailable:
        return self._history or TelemetryUnavailable("no history here")
