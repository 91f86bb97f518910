"""Issue 4's finish line, as a new user runs it: the digits model from the `kanri` CLI on the real local cluster.

Upload two versions, create development and production services, switch,
scale, split production traffic, read pods, sync and the audit trail — each
step's --json output consumed the way a script would, and real predictions
through the production route checked at the end.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kanri.console.cli import main
from kanri.console.cluster.local.control import kill_leftovers
from kanri.console.cluster.local.paths import LocalPaths
from kanri.serving.client import Client
from tests.support.cli import Kanri, kanri_in

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def kanri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kanri]:
    home = tmp_path / "home"
    run = kanri_in(monkeypatch, {"KANRI_HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "config")},
                   unset=("KANRI_CONFIG", "KANRI_CLUSTER", "KANRI_MODEL_STORE"))
    yield run
    CliRunner().invoke(main, ["local", "down"], prog_name="kanri")  # whatever it answers, leftovers go next
    kill_leftovers(LocalPaths(home))


def test_two_versions_two_levels_switch_scale_weights_and_audit(kanri: Kanri, digits_models: dict) -> None:
    kanri("app", "create", "digits", "--predictor", f"{ROOT / 'examples/digits/predictor.py'}:Digits")
    for name in ("digits-v1.skops", "digits-v2.skops"):
        assert json.loads(kanri("model", "upload", "digits", str(digits_models[name]), "--json"))["new"]
    created = json.loads(kanri("service", "create", "digits", "digits-dev", "--level", "development",
                               "--model", "1", "--json"))
    assert created["rollout"]["converged"] and created["weight"] == 100
    kanri("service", "create", "digits", "digits-prod", "--level", "production", "--model", "1", "--replicas", "2")

    switched = json.loads(kanri("switch", "digits", "digits-prod", "2", "--json"))
    assert (switched["model_version"], switched["previous_model_version"]) == (2, 1)
    assert switched["rollout"]["converged"] and switched["rollout"]["available"] == 2
    scaled = json.loads(kanri("scale", "digits", "digits-prod", "3", "--json"))
    assert scaled["rollout"]["available"] == 3

    kanri("service", "create", "digits", "digits-prod-b", "--level", "production", "--model", "1")
    route = json.loads(kanri("weights", "digits", "production", "digits-prod=80", "digits-prod-b=20", "--json"))
    assert route["weights"] == {"digits-prod": 80, "digits-prod-b": 20}

    listed = {s["name"]: s for s in json.loads(kanri("service", "list", "digits", "--json"))}
    for address in ("address", "http_address"):
        assert listed["digits-prod"][address] == listed["digits-prod-b"][address] != listed["digits-dev"][address]
    assert listed["digits-prod"]["http_address"] in kanri("service", "list", "digits")
    assert all(s["converged"] for s in listed.values())
    pods = json.loads(kanri("pods", "digits", "digits-prod", "--json"))
    assert len(pods) == 3 and {p["model_version"] for p in pods} == {2} and all(p["ready"] and p["pid"] for p in pods)
    assert json.loads(kanri("sync", "--json")) == {"drift": [], "fixed": False}

    rows = [json.loads(line) for line in digits_models["digits-test.jsonl"].read_text().splitlines()[:400]]
    with Client(app="digits", service_level="production") as client:
        answers = [client.predict(row["input"]) for row in rows]
    assert sum(a.label == row["label"] for a, row in zip(answers, rows, strict=True)) / len(rows) > 0.95
    versions = Counter(a.model_version for a in answers)
    assert abs(versions["2"] / len(rows) - 0.8) <= 0.05, versions
    over_http = f"{listed['digits-prod']['http_address']}/kanri/v1/predict"
    with urllib.request.urlopen(over_http, json.dumps({"input": rows[0]["input"]}).encode(), timeout=10) as answer:
        served = {"digits-prod": "2", "digits-prod-b": "1"}[answer.headers["x-kanri-service"]]
        assert json.loads(answer.read())["model_version"] == served

    trail = json.loads(kanri("audit", "--json"))
    assert [e["action"] for e in trail][:6] == ["sync", "route.weights", "service.create", "service.scale",
                                                "service.switch", "service.create"]
    assert all(e["result"] == "ok" for e in trail) and trail[4]["before"]["model_version"] == 1

    snapshot = json.loads(kanri("top", "digits", "--once", "--json"))
    figures = {s["service"]: s["figures"] for s in snapshot["services"]}
    assert set(figures) == {"digits-dev", "digits-prod", "digits-prod-b"}
    assert figures["digits-prod"]["memory_bytes"] > 0 and figures["digits-prod"]["restarts"] == 0
    lines = [json.loads(line) for line in kanri("logs", "digits", "digits-prod", "--grep", "is live",
                                                "--json").splitlines()]
    # the replaced v1 replicas' lines stay readable after they are gone
    assert {line["pod"] for line in lines} > {p["name"] for p in pods}
    assert {line["model_version"] for line in lines} == {"1", "2"}

    kanri("autoscale", "digits", "digits-dev", "--min", "0", "--max", "2", "--concurrency", "2",
          "--scale-to-zero-after", "1s")
    deadline = time.monotonic() + 20
    while not (now := kanri("service", "show", "digits", "digits-dev").splitlines()[-1]).startswith(
            "now                     0/0 ready; the autoscaler wants 0: no call for 1s"):
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    shown = kanri("service", "show", "digits", "digits-dev").splitlines()
    assert "replicas                autoscaled 0–2 at 2 in flight, idle 1s → 0" in shown, shown
    # and no CPU threshold or raw scaling fields beside it
    assert not [line for line in shown if line.startswith(("cpu threshold", "scale "))], shown
    while (pods := kanri("pods", "digits", "digits-dev")).startswith("NAME"):  # the last one still terminating
        assert time.monotonic() < deadline, pods
        time.sleep(0.2)
    assert pods == ("no replicas of digits/digits-dev run now; it scales to zero when idle, "
                    "and its next call starts one\n")
    with Client(app="digits", service_level="development", timeout=30, retries=0) as client:
        assert client.predict(rows[0]["input"]).label == rows[0]["label"]  # held while a replica starts
    assert json.loads(kanri("sync", "--json")) == {"drift": [], "fixed": False}


def test_top_says_when_prometheus_cannot_be_reached(kanri: Kanri, monkeypatch: pytest.MonkeyPatch,
                                                    echo_models: dict) -> None:
    kanri("app", "create", "echo", "--predictor", "tests.support.predictors:Echo")
    kanri("model", "upload", "echo", str(echo_models["v1"]))
    kanri("service", "create", "echo", "echo-dev", "--level", "development", "--model", "1", "--no-wait")
    monkeypatch.setenv("KANRI_PROMETHEUS_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["top", "echo", "--once"], prog_name="kanri")
    assert result.exit_code == 1 and result.stderr.startswith("error: metrics unavailable: ")
