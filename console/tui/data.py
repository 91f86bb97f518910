"""Everything the console reads and changes, as plain values, in one place between the widgets and console.ops.

Methods block (database, cluster, telemetry), so the screens call them from
Textual thread workers and never from the event loop. Every change goes
through the same operations as the CLI, so it is validated and audited the
same way; in read-only mode every change is refused here, whatever the UI shows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kanri.console.cluster.base import ClusterError, Pod, RolloutStatus
from kanri.console.config import Settings
from kanri.console.errors import KanriError
from kanri.console.ops import audit, evaluate, models, overview, routes, services, slo, sync
from kanri.console.ops.canary import CanaryEvent, CanaryPlan, run_canary
from kanri.console.ops.context import Context
from kanri.console.ops.views import AuditView, EvaluationView, ModelView, RouteView, ServiceView
from kanri.console.slo.alerts import AlertSource, FiringAlert
from kanri.console.slo.status import SloStatus, burn_alerts
from kanri.console.telemetry import LogPage, LogQuery, MetricsHistory, MetricsSnapshot, TelemetryUnavailable
from kanri.console.wiring import log_source, metrics_source, open_context
from kanri.serving.config import SERVICE_LEVELS

SLO_HISTORY_SECONDS = 86400.0


class ReadOnly(KanriError):
    """The console was started with --read-only."""


@dataclass(frozen=True)
class ServiceColumn:
    """A service as the grid's column header shows it: desired and live replicas, rolling or not."""

    service: ServiceView
    pods: int
    ready: int
    updated: int  # pods running the service's model version
    desired: int | None = None
    """Replicas an autoscaled service's autoscaler wants now (None: not autoscaled, or the cluster did not say)."""
    scale_reason: str = ""
    """Why it wants them, in the autoscaler's words; or why the cluster could not say."""

    @property
    def target(self) -> int:
        """The replicas the service is heading for: its autoscaler's choice once known, else the registry's."""
        return self.service.replicas if self.desired is None else self.desired

    @property
    def rolling(self) -> bool:
        return self.updated < self.target or self.pods > self.target or not self.service.converged

    @property
    def idle(self) -> bool:
        """Scaled to zero for want of calls: resting, not broken."""
        return self.desired == 0 and self.pods == 0

    @property
    def key(self) -> str:
        return self.service.name


@dataclass(frozen=True)
class AppGrid:
    """One application: its model versions (rows), its services (columns) and their pods."""

    app: str
    models: tuple[ModelView, ...]
    columns: tuple[ServiceColumn, ...]  # by service level, then name
    routes: tuple[RouteView, ...]
    pods: tuple[Pod, ...]
    pods_unavailable: str = ""  # why the cluster could not list pods, or ""

    def level_services(self, level: str) -> list[ServiceView]:
        return [c.service for c in self.columns if c.service.level == level]


class ConsoleData:
    def __init__(self, settings: Settings, *, read_only: bool = False, context: Context | None = None) -> None:
        self.settings = settings
        self.read_only = read_only
        self.ctx = context or open_context(settings, watch=True)
        self._pods_seen: list[Pod] = []
        # Scraping needs the pods; the grid refresh just listed them, so the metrics reuse that list.
        self.metrics = metrics_source(settings, lambda: list(self._pods_seen))
        self.logs = log_source(settings)
        self._alert_source = (AlertSource(settings.prometheus_url, timeout=settings.telemetry_timeout)
                              if settings.prometheus_url else None)

    def close(self) -> None:
        for source in (self.metrics, self.logs, self._alert_source):
            close = getattr(source, "close", None)
            if close is not None:
                close()
        self.ctx.close_backend()
        self.ctx.registry.close()

    # reading

    def applications(self) -> list[overview.AppHealth]:
        return overview.application_health(self.ctx)

    def grid(self, app: str) -> AppGrid:
        listed = sorted(services.list_services(self.ctx, app, addresses=False),
                        key=lambda s: (SERVICE_LEVELS.index(s.level), s.name))
        try:
            pods = self.ctx.backend.pods(app)
            unavailable = ""
        except ClusterError as exc:
            pods, unavailable = [], f"unavailable: {exc}"
        self._pods_seen = pods
        columns = []
        for service in listed:
            # Terminating pods are draining, no longer part of the service (as `kubectl rollout status` counts).
            mine = [p for p in pods if p.service == service.name and p.phase != "Terminating"]
            # A cluster that could not list pods is not asked again for each autoscaled service.
            desired, why = self._scaling(app, service) if service.autoscale and not unavailable else (None, "")
            columns.append(ServiceColumn(service, len(mine), sum(p.ready for p in mine),
                                         sum(p.model_version == service.model_version for p in mine), desired, why))
        return AppGrid(app, tuple(models.list_models(self.ctx, app)), tuple(columns),
                       tuple(routes.list_routes(self.ctx, app)), tuple(pods), unavailable)

    def _scaling(self, app: str, service: ServiceView) -> tuple[int | None, str]:
        """What the autoscaler wants and why, asked only for autoscaled services (the registry knows the rest);
        a cluster that cannot say costs this column its answer, not the grid."""
        try:
            status = self.ctx.backend.status(app, service.name)
        except ClusterError as exc:
            return None, f"unavailable: {exc}"
        return status.desired, status.scale_reason

    def snapshot(self, app: str) -> MetricsSnapshot | TelemetryUnavailable:
        return self.metrics.snapshot(app)

    def history(self, app: str, service: str, window_seconds: float = 900.0) -> MetricsHistory | TelemetryUnavailable:
        return self.metrics.history(app, service, window_seconds=window_seconds, step_seconds=15.0)

    def pods(self, app: str, service: str) -> list[Pod]:
        return services.pods(self.ctx, app, service)

    def service(self, app: str, service: str) -> ServiceView:
        """The service as the registry holds it now (with the version a change is checked against)."""
        return services.show_service(self.ctx, app, service)

    def slo(self, app: str, snapshot: MetricsSnapshot | None) -> list[SloStatus] | TelemetryUnavailable:
        """Each service's SLO standing from the figures the pods panel just showed (taken again only without
        them); the budget over at most a day of history (a 28-day range query per refresh is more than a
        console should ask of Prometheus)."""
        return slo.slo_overview(self.ctx, self.metrics, app, SLO_HISTORY_SECONDS, snapshot)

    def alerts(self, app: str, statuses: list[SloStatus]) -> list[FiringAlert] | TelemetryUnavailable:
        """Firing alerts from Prometheus when there is one; embedded, judged from the burn rates now."""
        if self._alert_source is not None:
            return self._alert_source.firing(app)
        return burn_alerts(statuses)

    def canary(self, plan: CanaryPlan, stop: threading.Event) -> Iterator[CanaryEvent]:
        self._allowed()
        return run_canary(self.ctx, self.metrics, plan, stop=stop)

    def search_logs(self, query: LogQuery) -> LogPage | TelemetryUnavailable:
        return self.logs.search(query)

    def poll_logs(self, query: LogQuery, cursor: object) -> LogPage | TelemetryUnavailable:
        return self.logs.poll(query, cursor)

    def audit_trail(self, target: str | None = None, limit: int = 500) -> list[AuditView]:
        return audit.audit_trail(self.ctx, target=target, limit=limit)

    def service_history(self, app: str, service: str) -> list[audit.Tenure]:
        return audit.service_history(self.ctx, app, service)

    def drift(self) -> list[sync.Drift]:
        return sync.drift(self.ctx)[0]

    def rollout(self, app: str, service: str, timeout: float = 300.0) -> Iterator[RolloutStatus]:
        return services.watch_rollout(self.ctx, app, service, timeout)

    # changing: each checks read-only first, then goes through console.ops

    def _allowed(self) -> None:
        if self.read_only:
            raise ReadOnly("the console runs --read-only: changes are refused")

    def switch(self, app: str, service: ServiceView, version: int) -> ServiceView:
        self._allowed()
        return services.switch(self.ctx, app, service.name, version, expected_version=service.version)

    def rollback(self, app: str, service: ServiceView) -> ServiceView:
        self._allowed()
        return services.rollback(self.ctx, app, service.name, expected_version=service.version)

    def scale(self, app: str, service: ServiceView, replicas: int) -> ServiceView:
        self._allowed()
        return services.scale(self.ctx, app, service.name, replicas, expected_version=service.version)

    def autoscale(self, app: str, service: ServiceView, min_replicas: int, max_replicas: int, metric: str,
                  target: float, scale_to_zero_after: float | None = None) -> ServiceView:
        self._allowed()
        return services.autoscale(self.ctx, app, service.name, min_replicas, max_replicas, metric, target,
                                  scale_to_zero_after, expected_version=service.version)

    def set_weights(self, app: str, level: str, weights: dict[str, int]) -> RouteView:
        self._allowed()
        return routes.set_weights(self.ctx, app, level, weights)

    def upload(self, app: str, path: str, description: str = "") -> tuple[ModelView, bool]:
        self._allowed()
        return models.upload_model(self.ctx, app, path, description)

    def evaluate(self, app: str, version: int, data_uri: str,
                 progress: Callable[[str], None] = lambda _message: None) -> EvaluationView:
        self._allowed()
        return evaluate.evaluate_model(self.ctx, app, version, data_uri, progress)

    def sync_fix(self) -> list[sync.Drift]:
        self._allowed()
        return sync.sync(self.ctx, fix=True)
