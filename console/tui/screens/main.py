"""The main screen: applications (left), the services × models grid (centre), the selected service's pods.

It refreshes itself in thread workers every few seconds; every change asks
for confirmation, goes through ConsoleData (so through console.ops, audited),
and a model change opens the live rollout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Header, Input

from kanri.console.cluster.base import SCALE_METRICS
from kanri.console.ops.canary import CanaryPlan
from kanri.console.ops.overview import AppHealth
from kanri.console.ops.services import DEFAULT_SCALE_TO_ZERO_AFTER
from kanri.console.ops.views import ServiceView
from kanri.console.slo.alerts import FiringAlert
from kanri.console.slo.status import SloStatus
from kanri.console.telemetry import MetricsHistory, MetricsSnapshot, TelemetryUnavailable
from kanri.console.tui.data import AppGrid, ConsoleData, ServiceColumn
from kanri.console.tui.focus import focus_now, opener, skip_while_typing
from kanri.console.tui.guard import attempt, post
from kanri.console.tui.screens.audit import AuditScreen, HistoryScreen
from kanri.console.tui.screens.canary import CanaryScreen
from kanri.console.tui.screens.confirm import ConfirmScreen
from kanri.console.tui.screens.drift import DriftScreen
from kanri.console.tui.screens.evaluation import EvaluationScreen
from kanri.console.tui.screens.forms import (
    Field,
    FormScreen,
    one_of,
    percent_steps,
    positive_number,
    seconds,
    whole_number,
)
from kanri.console.tui.screens.logs import LogsScreen
from kanri.console.tui.screens.pick_file import PickFileScreen
from kanri.console.tui.screens.rollout import RolloutScreen
from kanri.console.tui.screens.weights import WeightsScreen
from kanri.console.tui.widgets.app_list import AppList
from kanri.console.tui.widgets.fit_line import FitLine
from kanri.console.tui.widgets.key_footer import KeyFooter
from kanri.console.tui.widgets.model_grid import ModelGrid
from kanri.console.tui.widgets.pods_panel import PodsPanel

# Actions that change something: hidden and refused in read-only mode.
CHANGES = frozenset({"switch", "rollback", "scale_up", "scale_down", "scale_to", "autoscale", "weights", "upload",
                     "evaluate", "canary"})
SLO_SECONDS = 10.0
# `:` views, as k9s has them.
VIEWS = {"apps": "filter", "audit": "audit", "logs": "logs", "history": "history", "drift": "sync", "sync": "sync",
         "help": "app.help", "quit": "app.quit", "q": "app.quit"}


def alert_parts(alerts: list[FiringAlert]) -> tuple[list[Text], str]:
    """`⚠ 1 firing: page digits-prod   ! goes to it   <summary>`: the summary cut to the room left."""
    first = alerts[0]
    what = Text.assemble(("⚠ ", "bold red"), (f"{len(alerts)} firing: ", "bold"),
                         (f"{first.severity} ", "bold red" if first.severity == "page" else "yellow"),
                         first.service or first.app)
    return [what, Text("! goes to it", style="dim")], first.summary


def planned_scaling(service: ServiceView, values: dict) -> ServiceView:
    """The service as the autoscale form's values would leave it, so that the confirmation words its target as
    the grid and the CLI will (ServiceView.scale_target_text)."""
    low, high, metric, target = values["min"], values["max"], values["metric"], values["target"]
    return dataclasses.replace(
        service, min_replicas=low, max_replicas=high, autoscale=high > low, scale_metric=metric, scale_target=target,
        cpu_threshold=int(target) if metric == "cpu" else service.cpu_threshold,
        scale_to_zero_after=values["idle"] if low == 0 else 0.0)


def scaling_plan(planned: ServiceView) -> str:
    """`autoscaling between 0 and 8 replicas, each replica at 4 in flight, idle 30s → 0`."""
    if not planned.autoscale:
        return f"autoscaling off, {planned.min_replicas} replicas"
    return (f"autoscaling between {planned.min_replicas} and {planned.max_replicas} replicas, each replica at "
            f"{planned.scale_target_text()}")


class MainScreen(Screen):
    BINDINGS = [
        Binding("enter", "switch", "Switch model"),
        Binding("plus,=", "scale_up", "Scale +1", key_display="+"),
        Binding("minus", "scale_down", "Scale -1", key_display="-"),
        Binding("w", "weights", "Weights"),
        Binding("l", "logs", "Logs"),
        Binding("ctrl+l", "rollback", "Rollback"),
        Binding("s", "scale_to", "Scale to…", show=False),
        Binding("a", "autoscale", "Autoscale", show=False),
        Binding("u", "upload", "Upload model", show=False),
        Binding("e", "evaluate", "Evaluate model", show=False),
        Binding("y", "sync", "Sync / drift", show=False),
        Binding("h", "history", "Service history", show=False),
        Binding("A", "audit", "Audit log", show=False),
        Binding("r", "reload", "Refresh now", show=False),
        Binding("exclamation_mark", "to_alert", "Go to the alerting service", key_display="!", show=False),
        Binding("C", "canary", "Canary to this service", show=False),
        opener("/", "filter", "Filter apps", show=False),
        opener("colon", "command_line", "Jump to view", key_display=":", show=False),
    ]

    def __init__(self, data: ConsoleData, refresh_seconds: float = 2.0, traffic: object | None = None) -> None:
        super().__init__()
        self.data = data
        self.refresh_seconds = refresh_seconds
        self.traffic = traffic
        self.selected_app: str | None = None
        self.alerts: list[FiringAlert] = []
        self._slo_app: str | None = None
        self.grid_data: AppGrid | None = None
        self.snapshot: MetricsSnapshot | TelemetryUnavailable | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield AppList(id="apps")
            with Vertical(id="centre"):
                yield FitLine(id="grid-status")
                yield FitLine(id="alerts")
                yield ModelGrid(id="grid")
                yield PodsPanel(id="pods")
        yield Input(placeholder=":view  (apps, audit, logs, history, drift, help, app NAME)", id="command-line")
        yield KeyFooter()

    @property
    def grid(self) -> ModelGrid:
        return self.query_one(ModelGrid)

    def on_mount(self) -> None:
        self.title = "kanri"
        self.sub_title = self._cluster_line()
        self.query_one("#command-line", Input).display = False
        self.grid.read_only = self.data.read_only
        self.grid.focus()
        self.query_one("#alerts", FitLine).display = False
        self.action_reload()
        self.set_interval(self.refresh_seconds, self.action_reload)
        self.set_interval(max(self.refresh_seconds, SLO_SECONDS), self._reload_slo)

    def _cluster_line(self) -> str:
        settings = self.data.settings
        line = f"{settings.cluster} cluster" + ("  READ-ONLY" if self.data.read_only else "")
        summary = getattr(self.traffic, "summary", None)
        return f"{line}  ·  {summary()}" if summary else line

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.data.read_only and action in CHANGES)

    # loading: workers fetch, the UI thread shows

    def _post(self, callback: Callable[..., object], *args: object, **kwargs: object) -> None:
        post(self, callback, *args, **kwargs)

    def action_reload(self) -> None:
        if self.app.screen is not self and not isinstance(self.app.screen, ModalScreen):
            return  # a full screen (logs, audit) covers this one: its refresh would only cost that screen time
        self.sub_title = self._cluster_line()
        self.load_apps()
        if self.selected_app:
            self.load_app(self.selected_app, self._selected_service_name())

    @work(thread=True, exclusive=True, group="apps")
    def load_apps(self) -> None:
        apps, error = attempt(self.data.applications)
        first = apps[0].name if apps and self.selected_app is None else None
        self._post(self._show_apps, apps or [], error, first)
        if first is not None:  # the first screen: the first application's grid in the same trip
            self._fetch_app(first, None)

    def _show_apps(self, apps: list[AppHealth], error: str, first: str | None) -> None:
        if error:
            self._status([], Text(f"registry unavailable: {error}", style="red"))
            return
        app_list = self.query_one(AppList)
        app_list.show(apps)
        if first is not None and self.selected_app is None:
            self.selected_app = first
            app_list.select(first)
        elif not apps:
            self._status(["no applications yet: `kanri app create` or `kanri demo`"])

    @work(thread=True, exclusive=True, group="app")
    def load_app(self, app: str, service: str | None) -> None:
        self._fetch_app(app, service)

    def _fetch_app(self, app: str, service: str | None) -> None:
        """In a worker: the grid first (it is what the operator looks at), then figures, then sparklines."""
        grid, error = attempt(lambda: self.data.grid(app))
        self._post(self._show_grid, app, grid, error)
        if grid is None:
            return
        snapshot = self.data.snapshot(app)
        self._post(self._show_snapshot, app, snapshot)
        if service:
            self._post(self._show_history, app, service, self.data.history(app, service))

    def _reload_slo(self) -> None:
        if self.selected_app:
            self.load_slo(self.selected_app)

    @work(thread=True, exclusive=True, group="slo")
    def load_slo(self, app: str) -> None:
        """SLO standing and firing alerts, on a slower clock than the pods: they need history."""
        taken = self.snapshot if isinstance(self.snapshot, MetricsSnapshot) else None
        statuses, error = attempt(lambda: self.data.slo(app, taken))
        if statuses is None:
            statuses = TelemetryUnavailable(error)
        alerts = self.data.alerts(app, statuses if isinstance(statuses, list) else [])
        self._post(self._show_slo, app, statuses, alerts)

    def _show_slo(self, app: str, statuses: list[SloStatus] | TelemetryUnavailable,
                  alerts: list[FiringAlert] | TelemetryUnavailable) -> None:
        if app != self.selected_app:
            return
        if isinstance(statuses, list):
            self.grid.show_slo({s.objective.service: s for s in statuses})
        line = self.query_one("#alerts", FitLine)
        if isinstance(alerts, TelemetryUnavailable):
            self.alerts = []
            line.show([], Text(f"alerts unavailable: {alerts.reason}", style="yellow"))
        else:
            self.alerts = alerts
            line.show(*alert_parts(alerts)) if alerts else line.show([])
        line.display = bool(self.alerts) or isinstance(alerts, TelemetryUnavailable)

    @work(thread=True, exclusive=True, group="history")
    def load_history(self, app: str, service: str) -> None:
        self._post(self._show_history, app, service, self.data.history(app, service))

    def _show_grid(self, app: str, grid: AppGrid | None, error: str) -> None:
        if app != self.selected_app:
            return
        if grid is None:
            self._status([], Text(f"{app}: unavailable: {error}", style="red"))
            return
        self.grid_data = grid
        self.grid.show(grid)
        if self._slo_app != app:  # after the first grid, not beside it: SLOs need history and can wait
            self._slo_app = app
            self.load_slo(app)
        self._status(*self._focus_line())
        self._show_pods()

    def _show_snapshot(self, app: str, snapshot: MetricsSnapshot | TelemetryUnavailable) -> None:
        if app == self.selected_app:
            self.snapshot = snapshot
            self._show_pods()

    def _show_history(self, app: str, service: str, history: MetricsHistory | TelemetryUnavailable) -> None:
        if app == self.selected_app and service == self._selected_service_name():
            self.query_one(PodsPanel).show_history(history, service)

    def _show_pods(self) -> None:
        if self.grid_data is not None:
            self.query_one(PodsPanel).show(self.grid_data, self._selected_service_name(), self.snapshot)

    def _status(self, parts: list[Text | str], prose: Text | str = "") -> None:
        """The line above the grid: parts kept whole as the width allows, `prose` cut between words."""
        self.query_one("#grid-status", FitLine).show(parts, prose)

    def _focus_line(self) -> tuple[list[Text | str], str]:
        """The focused cell in full (the grid may show its names shortened), then its level's traffic split
        (other levels show theirs in the grid), then the model's description as far as it fits."""
        grid = self.grid_data
        parts: list[Text | str] = [Text(grid.app, style="bold")]
        column, model = self.grid.selected_column, self.grid.selected_model
        if column is None:
            return parts, ""
        parts.append(Text(column.service.name + (f" · v{model.version}" if model else ""), style="bold"))
        route = next((r for r in grid.routes if r.level == column.service.level), None)
        if route is not None:
            weights = " / ".join(f"{name} {weight}%" for name, weight in route.weights.items())
            mirror = f" (mirror {route.mirror_percent}% to {route.mirror})" if route.mirror else ""
            parts.append(f"{route.level}: {weights}{mirror}")
        return parts, model.description if model else ""

    def _selected_service_name(self) -> str | None:
        column = self.grid.selected_column
        return column.service.name if column else None

    @on(AppList.Selected)
    def _app_selected(self, event: AppList.Selected) -> None:
        if event.app == self.selected_app:
            return
        self.selected_app = event.app
        self.grid_data, self.snapshot = None, None
        self._status([f"{event.app}: loading…"])
        self.grid.slo = {}
        self.load_app(event.app, None)

    @on(ModelGrid.CellHighlighted, "#grid")
    def _cell_highlighted(self) -> None:
        if self.grid_data is not None:
            self._status(*self._focus_line())
        self._show_pods()
        service = self._selected_service_name()
        if self.selected_app and service:
            self.load_history(self.selected_app, service)

    @on(ModelGrid.CellSelected, "#grid")
    async def _cell_selected(self) -> None:
        await self.run_action("switch")

    # changing: confirm, then run through ConsoleData in a worker

    def _selection(self, need_model: bool = False) -> tuple[str, ServiceColumn] | None:
        column = self.grid.selected_column
        if self.selected_app is None or column is None:
            self.notify("select a service first (move to its column in the grid)", severity="warning")
            return None
        if need_model and self.grid.selected_model is None:
            self.notify("this application has no model versions yet: upload one with u", severity="warning")
            return None
        return self.selected_app, column

    def _confirm(self, service: ServiceView | None, title: str, details: str, then: Callable[[], None]) -> None:
        """Ask first (ConfirmScreen.about says how hard); a click that bypassed the hidden keys is refused here."""
        if self.data.read_only:
            self.notify("the console runs --read-only: changes are refused", severity="warning")
            return
        self.app.push_screen(ConfirmScreen.about(service, title, details), lambda go: then() if go else None)

    @work(thread=True, group="change")
    def run_change(self, call: Callable[[], object], done: str, follow: tuple[str, str] | None = None) -> None:
        """Run one change; with `follow` = (app, what), open the live rollout of the service it returns."""
        result, error = attempt(call)
        if error:
            self._post(self.notify, error, title="not done", severity="error", timeout=12)
        else:
            self._post(self.notify, done, timeout=6)
            if follow is not None and isinstance(result, ServiceView):
                self._post(self.app.push_screen, RolloutScreen(self.data, follow[0], result, follow[1],
                                                                         self.refresh_seconds))
        self._post(self.action_reload)

    def action_switch(self) -> None:
        selection = self._selection(need_model=True)
        if selection is None:
            return
        app, column = selection
        service, model = column.service, self.grid.selected_model
        if model.version == service.model_version:
            self.notify(f"{service.name} already runs v{model.version}")
            return
        details = (f"Rolling update of {service.name} ({service.level}, {service.replicas} replicas, "
                   f"{service.weight}% of its level's traffic) from v{service.model_version} to v{model.version} "
                   f"(sha256 {model.sha256[:12]}).\nNew pods load v{model.version} and become ready before old "
                   f"ones go (max surge {service.max_surge}, max unavailable {service.max_unavailable}).")
        self._confirm(service, f"Switch {app}/{service.name} to v{model.version}?", details,
                      lambda: self.run_change(lambda: self.data.switch(app, service, model.version),
                                              f"{service.name}: switching to v{model.version}",
                                              (app, f"v{service.model_version} → v{model.version}")))

    def action_rollback(self) -> None:
        selection = self._selection()
        if selection is None:
            return
        app, column = selection
        service = column.service
        if service.previous_model_version is None:
            self.notify(f"{service.name} has no previous model to roll back to", severity="warning")
            return
        self._confirm(service, f"Roll back {app}/{service.name}?",
                      f"Rolling update of {service.name} from v{service.model_version} back to "
                      f"v{service.previous_model_version}, the model it ran before.",
                      lambda: self.run_change(lambda: self.data.rollback(app, service),
                                              f"{service.name}: rolling back to v{service.previous_model_version}",
                                              (app, f"rollback to v{service.previous_model_version}")))

    def _scale(self, replicas: int) -> None:
        selection = self._selection()
        if selection is None:
            return
        app, column = selection
        service = column.service
        if replicas < 1:
            self.notify("a service keeps at least 1 replica", severity="warning")
            return
        bounds = (f"; autoscaling keeps it within {service.min_replicas}..{service.max_replicas}"
                  if service.autoscale else "")
        self._confirm(service, f"Scale {app}/{service.name} to {replicas}?",
                      f"{service.name} goes from {service.replicas} to {replicas} replicas{bounds}.",
                      lambda: self.run_change(lambda: self.data.scale(app, service, replicas),
                                              f"{service.name}: scaling to {replicas}", (app, f"scale to {replicas}")))

    def action_scale_up(self) -> None:
        column = self.grid.selected_column
        if column is not None:
            self._scale(column.service.replicas + 1)

    def action_scale_down(self) -> None:
        column = self.grid.selected_column
        if column is not None:
            self._scale(column.service.replicas - 1)

    def action_scale_to(self) -> None:
        column = self.grid.selected_column
        if column is None:
            return
        self.app.push_screen(FormScreen(f"Scale {column.service.name}", [
            Field("replicas", "replicas", str(column.service.replicas), whole_number(1, 1000))]),
            lambda values: self._scale(values["replicas"]) if values else None)

    def action_autoscale(self) -> None:
        selection = self._selection()
        if selection is None:
            return
        app, column = selection
        service = column.service

        def chosen(values: dict | None) -> None:
            if not values:
                return
            plan = planned_scaling(service, values)
            what = scaling_plan(plan)

            def change() -> ServiceView:
                """The idle time goes only with min 0; which metric may go to 0 replicas, and CPU's 1..100, are
                console.ops's to judge, and its refusal shows as any failed change's does."""
                return self.data.autoscale(app, service, plan.min_replicas, plan.max_replicas, plan.scale_metric,
                                           plan.scale_target,
                                           plan.scale_to_zero_after if plan.min_replicas == 0 else None)

            self._confirm(service, f"Autoscale {app}/{service.name}?", f"{service.name}: {what}.",
                          lambda: self.run_change(change, f"{service.name}: {what}"))

        target = service.cpu_threshold if service.scale_metric == "cpu" else service.scale_target
        idle = service.scale_to_zero_after if service.min_replicas == 0 else DEFAULT_SCALE_TO_ZERO_AFTER
        self.app.push_screen(FormScreen(f"Autoscale {service.name}", [
            Field("metric", "scale on: cpu, concurrency or rps", service.scale_metric, one_of(SCALE_METRICS)),
            Field("target", "target per replica: CPU %, in flight, rps", f"{target:g}", positive_number),
            Field("min", "minimum replicas", str(service.min_replicas), whole_number(0, 1000)),
            Field("max", "maximum replicas", str(service.max_replicas), whole_number(1, 1000)),
            Field("idle", "idle before scaling to zero (min 0)", f"{idle:g}s", seconds)],
            note="min = max turns autoscaling off; min 0 needs concurrency or rps"), chosen)

    def action_weights(self) -> None:
        selection = self._selection()
        if selection is None or self.grid_data is None:
            return
        app, column = selection
        level = column.service.level
        services = self.grid_data.level_services(level)
        if len(services) < 2:
            self.notify(f"{services[0].name} is the only service at {level}: it takes all the traffic",
                        severity="warning")
            return
        before = {s.name: s.weight for s in services}

        def chosen(weights: dict[str, int] | None) -> None:
            if not weights or weights == before:
                return
            moves = ", ".join(f"{name} {before[name]}→{weights[name]}%" for name in weights)
            production = services[0] if level == "production" else None
            self._confirm(production, f"Set {app}'s {level} weights?",
                          f"Traffic to {app} at {level} splits: {moves}. It takes effect without dropping calls.",
                          lambda: self.run_change(lambda: self.data.set_weights(app, level, weights),
                                                  f"{app} {level}: {moves}"))

        self.app.push_screen(WeightsScreen(app, level, before), chosen)

    def action_canary(self) -> None:
        selection = self._selection()
        if selection is None or self.grid_data is None:
            return
        app, column = selection
        canary, level = column.service, column.service.level
        if len(self.grid_data.level_services(level)) < 2:
            self.notify(f"a canary needs another service at {level} to take traffic from", severity="warning")
            return

        def chosen(values: dict | None) -> None:
            if not values:
                return
            plan = CanaryPlan(app, level, canary.name, tuple(values["steps"]), float(values["interval"]))
            self._confirm(canary, f"Canary {app}'s {level} traffic to {canary.name}?",
                          f"Moves {canary.name}'s weight through {', '.join(f'{s}%' for s in plan.steps)}, "
                          f"one step every {plan.interval_seconds:g}s while its errors and p99 stay within its "
                          "SLO and near the baseline's; on a breach its weight goes back to 0.",
                          lambda: self.app.push_screen(CanaryScreen(self.data, plan)))

        self.app.push_screen(FormScreen(f"Canary to {canary.name}", [
            Field("steps", "steps (% of traffic)", "5,25,50,100", percent_steps),
            Field("interval", "seconds between steps", "60", whole_number(1, 86400))]), chosen)

    def action_upload(self) -> None:
        app = self.selected_app
        if app is None:
            return

        def chosen(picked: tuple[str, str] | None) -> None:
            if picked is None:
                return
            path, description = picked
            self._confirm(None, f"Upload a model version for {app}?",
                          f"{path} is stored by its sha256 and registered as {app}'s next version"
                          f"{f' ({description})' if description else ''}; nothing is deployed.",
                          lambda: self.run_change(lambda: self.data.upload(app, path, description),
                                                  f"{app}: uploaded {path}"))

        self.app.push_screen(PickFileScreen(f"Upload a model file for {app}", note_label="description"), chosen)

    def action_evaluate(self) -> None:
        selection = self._selection(need_model=True)
        if selection is None:
            return
        app, column = selection
        model = self.grid.selected_model
        running = next((m for m in self.grid_data.models if m.version == column.service.model_version), None)

        def chosen(picked: tuple[str, str] | None) -> None:
            if picked is not None:
                self.notify(f"evaluating {app} v{model.version} on {picked[0]}…")
                self.run_evaluation(app, model.version, picked[0], running.evaluation if running else None,
                                    f"v{column.service.model_version} ({column.service.name})")

        self.app.push_screen(PickFileScreen(f"Evaluate {app} v{model.version}: pick a labelled data file "
                                            "(JSON lines of {\"input\": …, \"label\": …})"), chosen)

    @work(thread=True, group="change")
    def run_evaluation(self, app: str, version: int, path: str, baseline: dict | None, baseline_name: str) -> None:
        def progress(message: str) -> None:
            self._post(self.notify, message)

        result, error = attempt(lambda: self.data.evaluate(app, version, path, progress))
        if result is None:
            self._post(self.notify, error, severity="error", timeout=12)
            return
        self._post(self.app.push_screen, EvaluationScreen(
            f"{app} v{version} on {path}", result.metrics, baseline, baseline_name))
        self._post(self.action_reload)

    # views

    def action_to_alert(self) -> None:
        """The first firing alert's service, one key away."""
        if not self.alerts:
            self.notify("no alert is firing")
            return
        self.grid.move_to_service(self.alerts[0].service)
        self.grid.focus()

    def action_sync(self) -> None:
        self.app.push_screen(DriftScreen(self.data))

    def action_logs(self) -> None:
        if self.selected_app:
            self.app.push_screen(LogsScreen(self.data, self.selected_app, self._selected_service_name(),
                                            refresh=self.refresh_seconds))

    def action_history(self) -> None:
        selection = self._selection()
        if selection is not None:
            self.app.push_screen(HistoryScreen(self.data, selection[0], selection[1].service.name,
                                               refresh=self.refresh_seconds))

    def action_audit(self) -> None:
        self.app.push_screen(AuditScreen(self.data, refresh=self.refresh_seconds))

    def action_filter(self) -> None:
        skip_while_typing(self)
        self.query_one(AppList).focus_filter()

    def action_command_line(self) -> None:
        skip_while_typing(self)
        line = self.query_one("#command-line", Input)
        line.display = True
        line.value = ""
        focus_now(line)

    def select_app(self, name: str) -> None:
        self.query_one(AppList).select(name)
        self.grid.focus()

    @on(Input.Submitted, "#command-line")
    async def _command(self, event: Input.Submitted) -> None:
        line = self.query_one("#command-line", Input)
        line.display = False
        self.grid.focus()
        words = event.value.strip().removeprefix(":").split()
        if not words:
            return
        if words[0] == "app" and len(words) == 2:
            self.select_app(words[1])
        elif words[0] in VIEWS:
            await self.run_action(VIEWS[words[0]])
        else:
            self.notify(f"no view {words[0]!r}: try {', '.join(sorted(VIEWS))} or app NAME", severity="warning")

    def key_escape(self) -> None:
        line = self.query_one("#command-line", Input)
        if line.display:
            line.display = False
            self.grid.focus()
