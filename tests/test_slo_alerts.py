"""SLO alerts end to end: a real runtime driven into errors, a real Prometheus evaluating the generated rules
(windows 60x shorter), a real Alertmanager with the generated routes, and a webhook on the loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from console.slo.alertmanager import Timings, alertmanager_config
from console.slo.alerts import AlertSource, FiringAlert
from console.slo.objective import Objective
from console.slo.rules import SRE_WORKBOOK, RuleSettings, rules_file, scaled
from console.telemetry import TelemetryUnavailable
from serving.client import Client
from tests.support.alertmanager import Alertmanager, Webhook
from tests.support.prometheus import Prometheus, wait_until
from tests.support.servers import PREDICTORS, start_serve
from tests.support.traffic import Traffic

OBJECTIVE = Objective("testapp", "testapp-dev", "development", 99.0, 100)
FAST = Timings(group_wait="1s", group_interval="1s", page_repeat="1m", ticket_repeat="1m")


@pytest.fixture
def stack(tmp_path: Path, echo_models: dict) -> Iterator[tuple[Prometheus, Alertmanager, Webhook, Client]]:
    webhook = Webhook.start()
    alertmanager = Alertmanager.start(alertmanager_config(webhook.url, timings=FAST))
    rules = tmp_path / "rules.yml"
    rules.write_text(rules_file([OBJECTIVE], RuleSettings(policy=scaled(SRE_WORKBOOK, 60))))
    alerting = {"rule_files": [str(rules)],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager.port}"]}]}]}}
    prometheus = Prometheus.start(extra_config=yaml.safe_dump(alerting))
    server = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]), "--model-version", "1")
    prometheus.set_targets("kanri", [(f"127.0.0.1:{server.metrics_port}", {})])
    client = Client(server.target, retries=0)
    yield prometheus, alertmanager, webhook, client
    client.close()
    server.stop()
    prometheus.stop()
    alertmanager.stop()
    webhook.stop()


def _paging(source: AlertSource) -> list[FiringAlert]:
    alerts = source.firing("testapp")
    assert not isinstance(alerts, TelemetryUnavailable), alerts
    return [a for a in alerts if a.severity == "page"]


def test_a_failing_runtime_pages_through_prometheus_and_alertmanager_to_the_webhook(stack) -> None:
    prometheus, alertmanager, webhook, client = stack
    from_prometheus = AlertSource(prometheus.url)
    from_alertmanager = AlertSource(alertmanager.url, "alertmanager")
    with Traffic(client, "hello") as healthy:
        wait_until(lambda: healthy.outcomes["ok"] > 50, 10, "healthy calls")
    assert from_prometheus.firing() == []
    with Traffic(client, "boom") as failing:  # the Echo predictor raises on "boom": INTERNAL, a server fault
        [alert] = wait_until(lambda: _paging(from_prometheus), 40, "a page from Prometheus")
        assert (alert.name, alert.app, alert.service, alert.slo) == (
            "KanriAvailabilityBudgetBurn", "testapp", "testapp-dev", "availability")
        assert alert.summary == "testapp/testapp-dev is burning its availability error budget fast: page"
        assert alert.since is not None and "Share of calls answered with a server fault: 1 " in alert.description
        wait_until(lambda: _paging(from_alertmanager), 20, "the page in Alertmanager")
        messages = wait_until(lambda: [m for m in webhook.received if "page" in m.get("channel", "")], 20,
                              "a Slack message at the webhook")
    assert failing.outcomes["ok"] == 0 and sum(failing.outcomes.values()) > 0
    [attachment] = messages[0]["attachments"]
    assert attachment["title"] == ("[FIRING] page: testapp/testapp-dev is burning its availability "
                                   "error budget fast: page")
    assert messages[0]["channel"] == "#kanri-page"
    from_prometheus.close()
    from_alertmanager.close()


def test_an_unreachable_alert_api_is_reported_not_raised() -> None:
    source = AlertSource("http://127.0.0.1:9", "alertmanager", timeout=0.5)
    answer = source.firing()
    source.close()
    assert isinstance(answer, TelemetryUnavailable) and answer.reason.startswith("Alertmanager at http://127.0.0.1:9")
