"""SLO alerts end to end: a real runtime driven into errors, a real Prometheus evaluating the generated rules
(windows 60x shorter), a real Alertmanager with the generated routes, and a webhook on the loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kanri.console.cli import main
from kanri.console.cluster.base import Pod
from kanri.console.demo.traffic import Traffic
from kanri.console.slo.alertmanager import Timings, alertmanager_config
from kanri.console.slo.alerts import AlertSource, FiringAlert
from kanri.console.slo.notify import notify
from kanri.console.slo.objective import Objective
from kanri.console.slo.rules import SRE_WORKBOOK, RuleSettings, rules_file, scaled
from kanri.console.slo.status import SloStatus, burn_alerts, slo_status
from kanri.console.slo.watch import AlertWatch
from kanri.console.telemetry import PrometheusMetrics, ScrapeMetrics, TelemetryUnavailable
from kanri.console.telemetry.types import Figures, MetricsHistory, MetricsSnapshot, ServiceFigures
from tests.support.alertmanager import Alertmanager, Webhook
from tests.support.metrics import ScriptedMetrics
from tests.support.prometheus import Prometheus, wait_until
from tests.support.servers import PREDICTORS, ServeProcess, start_serve

OBJECTIVE = Objective("testapp", "testapp-dev", "development", 99.0, 100)
FAST = Timings(group_wait="1s", group_interval="1s", page_repeat="1m", ticket_repeat="1m")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory,
          echo_models: dict) -> Iterator[tuple[Prometheus, Alertmanager, Webhook, ServeProcess]]:
    tmp_path = tmp_path_factory.mktemp("slo-alerts")
    webhook = Webhook.start()
    alertmanager = Alertmanager.start(alertmanager_config(webhook.url, timings=FAST))
    rules = tmp_path / "rules.yml"
    rules.write_text(rules_file([OBJECTIVE], RuleSettings(policy=scaled(SRE_WORKBOOK, 60))))
    alerting = {"rule_files": [str(rules)],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager.port}"]}]}]}}
    prometheus = Prometheus.start(extra_config=yaml.safe_dump(alerting))
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--model-version", "1")
    prometheus.set_targets("kanri", [(f"127.0.0.1:{server.metrics_port}", {})])
    yield prometheus, alertmanager, webhook, server
    server.stop()
    prometheus.stop()
    alertmanager.stop()
    webhook.stop()


def _paging(source: AlertSource) -> list[FiringAlert]:
    alerts = source.firing("testapp")
    assert not isinstance(alerts, TelemetryUnavailable), alerts
    return [a for a in alerts if a.severity == "page"]


def _traffic(server: ServeProcess, payload: str) -> Traffic:
    """Calls of `payload` straight to the runtime, without retries, fast enough to fill a rate window."""
    return Traffic(OBJECTIVE.app, {OBJECTIVE.level: server.target}, [payload], rate=100)


def test_a_failing_runtime_pages_through_prometheus_and_alertmanager_to_the_webhook(
        stack: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prometheus, alertmanager, webhook, server = stack
    from_prometheus = AlertSource(prometheus.url)
    from_alertmanager = AlertSource(alertmanager.url, "alertmanager")
    with _traffic(server, "hello") as healthy:
        wait_until(lambda: healthy.stats()[OBJECTIVE.level].ok > 50, 10, "healthy calls")
    assert from_prometheus.firing() == []
    with _traffic(server, "boom") as failing:  # the Echo predictor raises on "boom": INTERNAL, a server fault
        [alert] = wait_until(lambda: _paging(from_prometheus), 40, "a page from Prometheus")
        assert (alert.name, alert.app, alert.service, alert.slo) == (
            "KanriAvailabilityBudgetBurn", "testapp", "testapp-dev", "availability")
        assert alert.summary == "testapp/testapp-dev is burning its availability error budget fast: page"
        assert alert.since is not None and "Share of calls answered with a server fault: 1 " in alert.description
        wait_until(lambda: _paging(from_alertmanager), 20, "the page in Alertmanager")
        for name, value in {"KANRI_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
                            "KANRI_PROMETHEUS_URL": prometheus.url}.items():
            monkeypatch.setenv(name, value)
        for name in ("KANRI_DATABASE_URL", "KANRI_CONFIG", "KANRI_CLUSTER"):
            monkeypatch.delenv(name, raising=False)
        runner = CliRunner()
        runner.invoke(main, ["app", "create", "testapp", "--predictor", f"{PREDICTORS}:Echo"])
        shown = runner.invoke(main, ["alerts", "testapp"])
        assert shown.exit_code == 0 and shown.stdout.splitlines()[1].split()[:4] == [
            "page", "testapp-dev", "availability", "KanriAvailabilityBudgetBurn"]
        messages = wait_until(lambda: [m for m in webhook.received if "page" in m.get("channel", "")], 20,
                              "a Slack message at the webhook")
    failed = failing.stats()[OBJECTIVE.level]
    assert failed.ok == 0 and failed.failed > 0, failed
    [attachment] = messages[0]["attachments"]
    assert attachment["title"] == ("[FIRING] page: testapp/testapp-dev is burning its availability "
                                   "error budget fast: page")
    assert messages[0]["channel"] == "#kanri-page"
    from_prometheus.close()
    from_alertmanager.close()


def test_burn_rate_and_budget_are_the_same_from_prometheus_and_from_embedded_scrapes(stack: tuple) -> None:
    prometheus, _, _, server = stack
    pod = Pod("testapp-dev-0", "testapp", "testapp-dev", "development", "Running", True, 0, 1.0, 1, "127.0.0.1",
              pid=server.process.pid, address=server.target, metrics_address=f"127.0.0.1:{server.metrics_port}")
    sources = {"prometheus": PrometheusMetrics(prometheus.url, rate_window="5s"),
               "embedded": ScrapeMetrics(lambda: [pod])}

    def burning() -> dict[str, SloStatus] | None:
        found = {name: slo_status([OBJECTIVE], source, "testapp", max_history_seconds=60)
                 for name, source in sources.items()}
        # The budget comes from history, which may hold no point yet when the burn rate already shows.
        ready = all(isinstance(s, list) and s[0].burn_rate == pytest.approx(100) and s[0].budget_left is not None
                    for s in found.values())
        return {name: s[0] for name, s in found.items()} if ready else None

    with _traffic(server, "boom"):
        found = wait_until(burning, 30, "a burn rate of 100 (every call failing against a 1 % budget)")
    for name, status in found.items():
        assert (status.error_ratio, status.latency_met, status.state) == (1.0, True, "critical"), name
        [alert] = burn_alerts([status])
        assert (alert.severity, alert.summary) == ("page", "testapp/testapp-dev is burning its availability "
                                                           "error budget 100.0x")
        assert status.budget_left is not None and status.budget_left < -10, (name, status)
        assert 0 <= status.budget_seen_seconds <= 60
    for source in sources.values():
        source.close()


def test_an_unreachable_alert_api_is_reported_not_raised() -> None:
    source = AlertSource("http://127.0.0.1:9", "alertmanager", timeout=0.5)
    answer = source.firing()
    source.close()
    assert isinstance(answer, TelemetryUnavailable) and answer.reason.startswith("Alertmanager at http://127.0.0.1:9")


def test_watching_alerts_tells_each_one_once_when_it_fires_and_when_it_resolves() -> None:
    told: list[str] = []
    watch = AlertWatch("http://127.0.0.1:9/hook", notify=lambda text, url: told.append(text))
    page = FiringAlert("KanriAvailabilityBudgetBurn", "page", "a", "s", "availability", "a/s burns", "", None)
    ticket = FiringAlert("KanriLatencyBudgetBurn", "ticket", "a", "s", "latency", "a/s is slow", "", None)
    assert watch.look([page]) == ([page], [])
    assert watch.look([page, ticket]) == ([ticket], [])
    assert watch.look([ticket]) == ([], [page])
    assert told == ["[FIRING] page: a/s burns", "[FIRING] ticket: a/s is slow", "[RESOLVED] page: a/s burns"]


def test_a_notification_that_cannot_be_delivered_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    assert notify("canary rolled back", "http://127.0.0.1:9/hook", timeout=0.5) is False
    assert notify("canary rolled back") is False
    assert [r.getMessage().endswith("canary rolled back") for r in caplog.records] == [True, True]


def test_figures_the_caller_just_took_are_not_taken_again() -> None:
    """The console hands over the snapshot its pods panel shows: the source is asked for history only."""
    taken = MetricsSnapshot("testapp", 0.0, (ServiceFigures("testapp-dev", Figures(error_ratio=0.05), ()),))
    source = ScriptedMetrics(TelemetryUnavailable("a second snapshot was taken"),
                             history=MetricsHistory("testapp", 60.0, {}, {}))
    [status] = slo_status([OBJECTIVE], source, "testapp", snapshot=taken)
    assert status.burn_rate == pytest.approx(5.0)  # 5 % errors against a 1 % budget, from the figures handed over
    assert isinstance(slo_status([OBJECTIVE], source, "testapp"), TelemetryUnavailable)  # without them: asked
