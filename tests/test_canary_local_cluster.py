"""The automated canary end to end on the embedded local cluster, from the `kanri` CLI, with real traffic:
a good version promotes itself to 100 %, a broken one rolls itself back, says why and notifies; then the
promoted service, switched to the broken version, pages through `kanri alerts`, the webhook and the console."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.widgets import Static

from kanri.console.cli import main
from kanri.console.cluster.local.control import kill_leftovers
from kanri.console.cluster.local.paths import LocalPaths
from kanri.console.config import ENVIRONMENT, load
from kanri.console.demo.traffic import Traffic
from kanri.console.tui.app import KanriApp
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.screens.main import MainScreen
from kanri.serving.client import local_route
from tests.support.alertmanager import Webhook
from tests.support.prometheus import wait_until

Kanri = Callable[..., tuple[int, str]]


@pytest.fixture
def kanri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kanri]:
    home = tmp_path / "home"
    for name in (*ENVIRONMENT.values(), "KANRI_CONFIG", "KANRI_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KANRI_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, list(args), prog_name="kanri", catch_exceptions=False)
        assert result.exit_code in (0, 1), result.stderr
        return result.exit_code, result.stdout

    yield run
    runner.invoke(main, ["local", "down"], prog_name="kanri")
    kill_leftovers(LocalPaths(home))


def _events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_a_good_version_promotes_itself_and_a_broken_one_rolls_back(kanri: Kanri, echo_models: dict,
                                                                     tmp_path: Path) -> None:
    broken = tmp_path / "echo-broken.txt"
    broken.write_text("broken")
    kanri("app", "create", "echo", "--predictor", "tests.support.predictors:Breakable")
    for model in (echo_models["v1"], echo_models["v2"], broken):
        kanri("model", "upload", "echo", str(model))
    for name, version in (("echo-a", "1"), ("echo-b", "2"), ("echo-c", "3")):
        kanri("service", "create", "echo", name, "--level", "production", "--model", version)
    # Generous on latency: a busy 2-core machine must not fail the canary on p99 (tests/test_ops_canary.py does).
    kanri("slo", "echo", "echo-b", "--availability", "99", "--latency-ms", "1000")
    webhook = Webhook.start()
    with Traffic("echo", {"production": local_route("echo", "production")}, ["hello"], rate=100) as traffic:
        code, out = kanri("canary", "echo", "production", "--to", "echo-b", "--steps", "5,25,50,100",
                          "--interval", "1s", "--latency-slack-ms", "500", "--json")
        good = _events(out)
        code_bad, out = kanri("canary", "echo", "production", "--to", "echo-c", "--steps", "10,50,100",
                              "--interval", "1s", "--latency-slack-ms", "500", "--webhook", webhook.url, "--json")
        bad = _events(out)
        # Break the promoted service on purpose: its SLO's burn rate pages, here and at the webhook.
        kanri("switch", "echo", "echo-b", "3")
        paging = wait_until(lambda: _paging(kanri("alerts", "echo", "--webhook", webhook.url, "--json")[1]), 15,
                            "a page for echo-b judged from the scraped metrics")
        console_alerts, standing = asyncio.run(_what_the_console_shows())
    webhook.stop()

    assert code == 0 and [e["kind"] for e in good if e["kind"] in ("step", "promoted")] == ["step"] * 4 + ["promoted"]
    assert [e["weights"]["echo-b"] for e in good if e["kind"] == "step"] == [5, 25, 50, 100]
    assert good[-1]["weights"] == {"echo-a": 0, "echo-b": 100, "echo-c": 0}
    assert all(e["canary"]["error_ratio"] == 0 for e in good if e["kind"] == "passed")

    assert code_bad == 1 and bad[-1]["kind"] == "rolled-back"
    assert bad[-1]["weights"] == {"echo-a": 0, "echo-b": 100, "echo-c": 0}
    assert "error ratio 100.00% is more than 1.00% above the baseline's 0.00%" in bad[-1]["message"]
    assert [e["weights"]["echo-c"] for e in bad if e["kind"] == "step"] == [10]
    seen = traffic.stats()["production"]
    assert seen.ok > 100 and seen.failed > 0 and seen.last_error.startswith("ServingError"), seen

    assert paging[0]["summary"].startswith("echo/echo-b is burning its availability error budget")
    assert console_alerts[0][:2] == ("page", "echo-b") and "page echo-b" in console_alerts[0][2]
    assert standing == "critical"
    rollback, page, *_ = webhook.received
    assert rollback["text"].startswith("kanri: canary of echo-c at echo/production rolled back at 10 %: error ratio")
    assert page["text"].startswith("[FIRING] page: echo/echo-b is burning its availability error budget")
    trail = json.loads(kanri("audit", "--target", "echo/production", "--json")[1])
    actions = [(e["action"], e["result"]) for e in reversed(trail)]
    assert actions == [("canary.start", "ok"), *[("route.weights", "ok")] * 4, ("canary.promote", "ok"),
                       ("canary.start", "ok"), ("route.weights", "ok"), ("route.weights", "ok"),
                       ("canary.rollback", "rolled-back")]
    assert trail[0]["error"] == bad[-1]["message"]


def _paging(out: str) -> list[dict]:
    return [a for a in json.loads(out) if a["severity"] == "page" and a["service"] == "echo-b"]


async def _what_the_console_shows() -> tuple[list[tuple[str, str, str]], str]:
    """The console opened on the same embedded home: its alerts line and echo-b's SLO standing, from the
    replicas' own metrics, as an operator would see them arrive."""
    data = ConsoleData(load())
    try:
        async with KanriApp(data, refresh_seconds=1.0).run_test(size=(120, 40)) as pilot:
            screen = next(s for s in pilot.app.screen_stack if isinstance(s, MainScreen))
            line = screen.query_one("#alerts", Static)
            for _ in range(300):
                if screen.alerts and "page echo-b" in str(line.render()):
                    break
                await pilot.pause(0.1)
            return ([(a.severity, a.service, str(line.render())) for a in screen.alerts],
                    screen.grid.slo["echo-b"].state)
    finally:
        data.close()
