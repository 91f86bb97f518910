"""The pods of the selected service with their live figures, and sparklines of the last 15 minutes.

A pod's status is the one `kubectl get pods` shows (Init:CrashLoopBackOff, not the Pending phase behind
it); under the table, pods that are not ready say why, the way `kubectl describe` would. At 80 columns the
table keeps the pod, its status and readiness, shortens pod names in the middle, and gives up age, restarts,
then memory and GPU first; with the table focused, the title says the cursor's pod in full. Under the title,
an autoscaled service says its bounds and target, how many replicas its autoscaler wants and why, or that it
is idle at zero.
"""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Sparkline, Static

from kanri.console.cluster.base import Pod
from kanri.console.moments import duration
from kanri.console.telemetry import Figures, MetricsHistory, MetricsSnapshot, TelemetryUnavailable
from kanri.console.telemetry.format import cores, count, mib, ms, percent, rate
from kanri.console.tui.data import AppGrid, ServiceColumn
from kanri.console.tui.fit import Spec
from kanri.console.tui.widgets.fit_line import FitLine
from kanri.console.tui.widgets.fitted_table import FittedTable

COLUMNS = (Spec("pod", "pod", kind="name", least=14), Spec("status", "status"), Spec("ready", "ready"),
           Spec("restarts", "restarts", "rst", rank=3), Spec("age", "age", rank=3), Spec("model", "model", rank=1),
           Spec("cpu", "cpu", rank=1), Spec("memory", "memory", "mem", rank=2), Spec("gpu", "gpu", rank=2),
           Spec("rps", "rps", rank=1), Spec("p99 ms", "p99 ms", "p99", rank=1))
FAILING = ("Err", "BackOff", "Killed", "ExitCode", "Signal", "Failed", "Evicted")  # words of statuses shown red
# A figure's name, format and unit, the same in the title's summary and under each sparkline.
FIGURES = {"requests_per_second": ("rps", rate, ""), "error_ratio": ("errors", percent, ""),
           "p99_seconds": ("p99", ms, " ms"), "in_flight": ("in flight", count, ""),
           "cpu_cores": ("cpu", cores, ""), "gpu_utilization": ("gpu", percent, "")}
SPARKS = {"spark-rps": "requests_per_second", "spark-p99": "p99_seconds", "spark-cpu": "cpu_cores",
          "spark-gpu": "gpu_utilization"}
SUMMARY = ("requests_per_second", "error_ratio", "p99_seconds", "in_flight")


def figure(name: str, value: float | None, blank: str = "") -> str:
    """`p99 3.7 ms`; `blank` after the name when there is no figure (and "" without a blank)."""
    label, show, unit = FIGURES[name]
    text = show(value)
    if text is None:
        return f"{label} {blank}" if blank else ""
    return f"{label} {text}{unit}"


def pod_row(pod: Pod, figures: Figures | None) -> tuple[str | Text, ...]:
    f = figures or Figures()
    return (pod.name, Text(pod.status, style=status_style(pod)), "1/1" if pod.ready else "0/1", str(pod.restarts),
            duration(pod.age_seconds),
            "" if pod.model_version is None else f"v{pod.model_version}", cores(f.cpu_cores) or "",
            mib(f.memory_bytes) or "", percent(f.gpu_utilization) or "",
            rate(f.requests_per_second) or "", ms(f.p99_seconds) or "")


def status_style(pod: Pod) -> str:
    if pod.ready:
        return "green"
    return "red" if any(word in pod.status for word in FAILING) else "yellow"


def reasons(pods: list[Pod]) -> Text:
    """Why pods are not ready: each status once, with how many pods show it and why one of them does
    (as a stuck rollout says it); `kanri pods` lists every pod's reason."""
    alike: dict[str, list[Pod]] = {}
    for pod in pods:
        if not pod.ready and pod.reason:
            alike.setdefault(pod.status, []).append(pod)
    text = Text()
    for status, group in alike.items():
        text.append(status if len(group) == 1 else f"{status} ×{len(group)}", style=status_style(group[0]))
        text.append(f"  {group[0].name}: {group[0].reason}\n")
    text.rstrip()
    return text


def scaling(column: ServiceColumn) -> tuple[list[Text | str], Text | str]:
    """`autoscaled 0–8 at 4 in flight · wants 3: 11.2 in flight against 4 per replica`; scaled to zero, `idle
    (scaled to zero)` first, so that an empty table reads as resting rather than broken."""
    service = column.service
    parts: list[Text | str] = [Text("idle (scaled to zero)", style="bold")] if column.idle else []
    parts.append(service.autoscaling_text())
    if column.desired is None:  # the cluster could not say
        return parts, Text(column.scale_reason, style="yellow")
    if column.idle:
        return parts, column.scale_reason
    return parts, f"wants {column.desired}" + (f": {column.scale_reason}" if column.scale_reason else "")


class PodsPanel(Vertical):
    DEFAULT_CSS = """
    PodsPanel #pods-reasons { display: none; height: auto; max-height: 4; padding: 0 1; }
    PodsPanel #pods-scaling { display: none; padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._title: list[Text | str] = []
        self._trouble = Text()

    def compose(self) -> ComposeResult:
        yield FitLine("pods", id="pods-title")
        yield FitLine(id="pods-scaling", separator=" · ")
        yield FittedTable(COLUMNS, id="pods-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="pods-reasons")
        with Horizontal(id="sparks"):
            for spark_id, name in SPARKS.items():
                with Vertical(classes="spark"):
                    yield Label(figure(name, None, "—"), id=f"{spark_id}-label")
                    yield Sparkline([], id=spark_id)

    @property
    def table(self) -> FittedTable:
        return self.query_one("#pods-table", FittedTable)

    def show(self, grid: AppGrid, service: str | None, snapshot: MetricsSnapshot | TelemetryUnavailable | None) -> None:
        pods = [p for p in grid.pods if service in (None, p.service)]
        figures: dict[str, Figures] = {}
        parts: list[Text | str] = [Text(f"pods of {service or grid.app}", style="bold")]
        self._trouble = Text(f"pods {grid.pods_unavailable}" if grid.pods_unavailable else "", style="red")
        if isinstance(snapshot, MetricsSnapshot):
            for group in snapshot.services:
                if service in (None, group.service):
                    figures.update({p.pod: p.figures for p in group.pods})
                    if service == group.service:
                        parts += [figure(name, getattr(group.figures, name)) for name in SUMMARY]
        elif isinstance(snapshot, TelemetryUnavailable) and not self._trouble:
            self._trouble = Text(f"metrics unavailable: {snapshot.reason}", style="yellow")
        self._title = parts
        why, text = self.query_one("#pods-reasons", Static), reasons(pods)
        why.update(text)
        why.display = bool(text.plain)
        self.table.show({p.name: pod_row(p, figures.get(p.name)) for p in pods})
        self._show_title()
        self._show_scaling(next((c for c in grid.columns if c.key == service and c.service.autoscale), None))

    def _show_scaling(self, autoscaled: ServiceColumn | None) -> None:
        """Under the title, for an autoscaled service only: its bounds and target, what it wants and why."""
        line = self.query_one("#pods-scaling", FitLine)
        line.display = autoscaled is not None
        if autoscaled is not None:
            line.show(*scaling(autoscaled))

    @on(DataTable.RowHighlighted)
    @on(events.DescendantFocus)
    @on(events.DescendantBlur)
    def _show_title(self) -> None:
        """The title, the cursor's pod in full if it shows shortened and the table has focus, the figures."""
        table = self.table
        cut = [Text(name, style="bold") for name in table.cut_in(table.cursor_key())] if table.has_focus else []
        self.query_one("#pods-title", FitLine).show([*self._title[:1], *cut, *self._title[1:]], self._trouble)

    def show_history(self, history: MetricsHistory | TelemetryUnavailable, service: str | None) -> None:
        series = history.services.get(service or "", {}) if isinstance(history, MetricsHistory) else {}
        for spark_id, name in SPARKS.items():
            values = series[name].values if name in series else []
            self.query_one(f"#{spark_id}", Sparkline).data = values
            label = figure(name, values[-1] if values else None, "—")
            if isinstance(history, TelemetryUnavailable):
                label = figure(name, None, "n/a")  # the title says why
            self.query_one(f"#{spark_id}-label", Label).update(label)
