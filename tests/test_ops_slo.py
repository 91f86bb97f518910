"""SLOs in the registry, on SQLite and MariaDB: set, replace, show, list, remove, validation and audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kanri.console.cli import main
from kanri.console.errors import Invalid, NotFound
from kanri.console.ops import applications, audit, models, services, slo
from kanri.console.ops.context import Context
from kanri.console.slo.objective import Objective
from tests.support.servers import PREDICTORS


@pytest.fixture
def echo(ops: Context, echo_models: dict) -> Context:
    """Application echo with v1 served by echo-dev and echo-dev-b."""
    applications.create_app(ops, "echo", f"{PREDICTORS}:Echo")
    models.upload_model(ops, "echo", echo_models["v1"])
    services.create_service(ops, "echo", "echo-dev", "development", 1)
    services.create_service(ops, "echo", "echo-dev-b", "development", 1)
    return ops


def test_an_slo_is_set_replaced_listed_and_removed_with_an_audit_trail(echo: Context) -> None:
    first = slo.set_slo(echo, "echo", "echo-dev", 99.9, 100)
    assert first == Objective("echo", "echo-dev", "development", 99.9, 100.0, 99.0, 28)
    assert first.error_budget == pytest.approx(0.001) and first.latency_seconds == 0.1
    slo.set_slo(echo, "echo", "echo-dev-b", 99.99, 50)
    slo.set_slo(echo, "echo", "echo-dev", 99.5, 250, latency_percent=95, window_days=7)
    assert slo.show_slo(echo, "echo", "echo-dev") == Objective("echo", "echo-dev", "development", 99.5, 250.0,
                                                               95.0, 7)
    assert [o.service for o in slo.list_slos(echo, "echo")] == ["echo-dev", "echo-dev-b"]
    replaced = audit.audit_trail(echo, target="echo/echo-dev")[0]
    assert (replaced.action, replaced.actor, replaced.result) == ("slo.set", "alice", "ok")
    assert replaced.before["availability_percent"] == 99.9 and replaced.after["latency_ms"] == 250

    slo.remove_slo(echo, "echo", "echo-dev")
    with pytest.raises(NotFound, match="has no SLO; set one with kanri slo echo echo-dev"):
        slo.show_slo(echo, "echo", "echo-dev")
    assert audit.audit_trail(echo)[0].action == "slo.remove"


def test_deleting_a_service_deletes_its_slo(echo: Context) -> None:
    slo.set_slo(echo, "echo", "echo-dev-b", 99.9, 100)
    services.delete_service(echo, "echo", "echo-dev-b")
    assert slo.list_slos(echo) == []


@pytest.mark.parametrize(("args", "message"), [
    ((100, 100), "availability 100 must be a percentage above 0 and below 100"),
    ((99.9, 120), "120 ms is not a bound of the runtime's latency histogram.*use one of 0.5, 1, 2.5"),
    ((99.9, 100, 0), "latency percent 0 must be a percentage"),
    ((99.9, 100, 99, 0), "window of 0 days must be from 1 to 366"),
])
def test_objectives_are_checked_before_anything_is_written(echo: Context, args: tuple, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        slo.set_slo(echo, "echo", "echo-dev", *args)
    assert slo.list_slos(echo) == []
    assert audit.audit_trail(echo)[0].action == "service.create"


def test_an_unknown_service_is_named(echo: Context) -> None:
    with pytest.raises(NotFound, match="has no service 'nope' \\(services: echo-dev, echo-dev-b\\)"):
        slo.set_slo(echo, "echo", "nope", 99.9, 100)
    refused = audit.audit_trail(echo)[0]
    assert (refused.action, refused.result) == ("slo.set", "refused")


def test_kanri_slo_sets_and_shows(echo: Context, registry_url: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KANRI_DATABASE_URL", registry_url)
    monkeypatch.setenv("KANRI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KANRI_MODEL_STORE", echo.store.root)
    runner = CliRunner()

    def kanri(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(main, list(args), prog_name="kanri")
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = kanri("slo", "echo", "echo-dev", "--availability", "99.9", "--latency-ms", "100")
    assert code == 0 and out.splitlines()[1].split() == ["echo", "echo-dev", "development", "99.9%", "99%", "<",
                                                         "100", "ms", "28d"]
    assert json.loads(kanri("slo", "echo", "echo-dev", "--json")[1])["availability_percent"] == 99.9
    assert [o["service"] for o in json.loads(kanri("slo", "echo", "--json")[1])] == ["echo-dev"]
    code, _, err = kanri("slo", "echo", "echo-dev", "--availability", "99.9")
    assert code == 2 and "needs both --availability and --latency-ms" in err
    code, _, err = kanri("slo", "echo", "echo-dev-b")
    assert code == 1 and err.startswith("error: service echo/echo-dev-b has no SLO")

    [group] = yaml.safe_load(kanri("render", "rules")[1])["groups"]
    assert group["name"] == "kanri-slo-echo-echo-dev" and len(group["rules"]) == 18
    rule = yaml.safe_load(kanri("render", "rules", "echo", "--prometheus-rule")[1])
    assert rule["kind"] == "PrometheusRule" and rule["spec"]["groups"] == [group]
    config = yaml.safe_load(kanri("render", "alertmanager", "--webhook", "http://127.0.0.1:9/hook")[1])
    assert {r["name"]: r.get("slack_configs", [{}])[0].get("api_url") for r in config["receivers"]} == {
        "kanri-unrouted": None, "kanri-page": "http://127.0.0.1:9/hook", "kanri-ticket": "http://127.0.0.1:9/hook"}
