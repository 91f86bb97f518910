"""The pods of the selected service with their live figures, and sparklines of the last 15 minutes.

A pod's status is the one `kubectl get pods` shows (Init:CrashLoopBackOff, not the Pending phase behind
it); under the table, pods that are not ready say why, the way `kubectl describe` would.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Sparkline, Static

from console.cluster.base import Pod
from console.moments import duration
from console.telemetry import Figures, MetricsHistory, MetricsSnapshot, TelemetryUnavailable
from console.telemetry.format import cores, count, mib, ms, percent, rate
from console.tui.data import AppGrid

COLUMNS = ("pod", "status", "ready", "restarts", "age", "model", "cpu", "memory", "gpu", "rps", "p99 ms")
FAILING = ("Err", "BackOff", "Killed", "ExitCode", "Signal", "Failed", "Evicted")  # words of statuses shown red
# sparkline id -> (label, figure name)
SPARKS = {"spark-rps": ("req/s", "requests_per_second"), "spark-p99": ("p99", "p99_seconds"),
          "spark-cpu": ("cpu", "cpu_cores"), "spark-gpu": ("gpu", "gpu_utilization")}


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


class PodsPanel(Vertical):
    DEFAULT_CSS = """
    PodsPanel #pods-reasons { display: none; height: auto; max-height: 4; padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows: dict[str, tuple] = {}

    def compose(self) -> ComposeResult:
        yield Static("pods", id="pods-title")
        table = DataTable(id="pods-table", cursor_type="row", zebra_stripes=True)
        for name in COLUMNS:
            table.add_column(name, key=name)
        yield table
        yield Static(id="pods-reasons")
        with Horizontal(id="sparks"):
            for spark_id, (label, _) in SPARKS.items():
                with Vertical(classes="spark"):
                    yield Label(label, id=f"{spark_id}-label")
                    yield Sparkline([], id=spark_id)

    @property
    def table(self) -> DataTable:
        return self.query_one("#pods-table", DataTable)

    def show(self, grid: AppGrid, service: str | None, snapshot: MetricsSnapshot | TelemetryUnavailable | None) -> None:
        pods = [p for p in grid.pods if service in (None, p.service)]
        figures: dict[str, Figures] = {}
        title = f"pods of {service or grid.app}"
        if isinstance(snapshot, MetricsSnapshot):
            for group in snapshot.services:
                if service in (None, group.service):
                    figures.update({p.pod: p.figures for p in group.pods})
                    if service == group.service:
                        title += "  " + summary(group.figures)
        elif isinstance(snapshot, TelemetryUnavailable):
            title += f"  metrics unavailable: {snapshot.reason}"
        if grid.pods_unavailable:
            title += f"  pods {grid.pods_unavailable}"
        self.query_one("#pods-title", Static).update(title)
        why, text = self.query_one("#pods-reasons", Static), reasons(pods)
        why.update(text)
        why.display = bool(text.plain)
        table = self.table
        wanted = {p.name: pod_row(p, figures.get(p.name)) for p in pods}
        for gone in [key for key in self._rows if key not in wanted]:
            table.remove_row(gone)
            del self._rows[gone]
        for name, row in wanted.items():
            if name not in self._rows:
                table.add_row(*row, key=name)
            elif self._rows[name] != row:
                for column, (old, new) in zip(COLUMNS, zip(self._rows[name], row, strict=True), strict=True):
                    if old != new:
                        table.update_cell(name, column, new)
            self._rows[name] = row

    def show_history(self, history: MetricsHistory | TelemetryUnavailable, service: str | None) -> None:
        series = history.services.get(service or "", {}) if isinstance(history, MetricsHistory) else {}
        for spark_id, (label, figure) in SPARKS.items():
            values = series[figure].values if figure in series else []
            self.query_one(f"#{spark_id}", Sparkline).data = values
            latest = _latest(figure, values[-1]) if values else "—"
            if isinstance(history, TelemetryUnavailable):
                latest = "unavailable"
            self.query_one(f"#{spark_id}-label", Label).update(f"{label} {latest}")


def _latest(figure: str, value: float) -> str:
    return {"requests_per_second": rate, "p99_seconds": lambda v: f"{ms(v)} ms",
            "cpu_cores": cores, "gpu_utilization": percent}[figure](value) or "—"


def summary(f: Figures) -> str:
    parts = [("rps", rate(f.requests_per_second)), ("err", percent(f.error_ratio)),
             ("p99", ms(f.p99_seconds) and f"{ms(f.p99_seconds)}ms"), ("in-flight", count(f.in_flight))]
    return "  ".join(f"{name} {value}" for name, value in parts if value is not None)
