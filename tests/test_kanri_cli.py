"""The `kanri` registry commands as a script uses them: exit codes, one-line errors, --json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from kanri.console.cli import main
from tests.support.registry import database_url
from tests.support.servers import PREDICTORS

Kanri = Callable[..., tuple[int, str, str]]


@pytest.fixture
def kanri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kanri:
    """Run `kanri ARGS` in-process against a fresh KANRI_HOME; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("KANRI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KANRI_DATABASE_URL", raising=False)
    monkeypatch.delenv("KANRI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(main, list(args), prog_name="kanri", catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("command", _commands(main), ids=" ".join)
def test_every_command_has_help(kanri: Kanri, command: tuple[str, ...]) -> None:
    code, out, _ = kanri(*command, "--help")
    assert code == 0 and "Usage: kanri" in out and len(out.splitlines()) > 3


def test_applications_and_models_from_the_command_line(kanri: Kanri, echo_models: dict) -> None:
    assert kanri("app", "create", "echo", "--predictor", f"{PREDICTORS}:Echo", "--description", "says it back")[0] == 0
    code, out, _ = kanri("model", "upload", "echo", str(echo_models["v1"]), "--description", "one")
    assert code == 0 and out.startswith("uploaded echo v1 (file, 3 bytes, sha256 ")
    code, out, _ = kanri("model", "upload", "echo", str(echo_models["v2"]), "--json")
    uploaded = json.loads(out)
    assert (uploaded["version"], uploaded["new"]) == (2, True)
    code, out, _ = kanri("model", "upload", "echo", str(echo_models["v1"]))
    assert "echo v1 already holds these bytes" in out
    apps = json.loads(kanri("app", "list", "--json")[1])
    assert [(a["name"], a["models"], a["description"]) for a in apps] == [("echo", 2, "says it back")]
    versions = json.loads(kanri("model", "list", "echo", "--json")[1])
    assert [(m["version"], m["description"]) for m in versions] == [(1, "one"), (2, "")]
    table = kanri("model", "list", "echo")[1].splitlines()
    assert table[0].split()[:3] == ["VERSION", "FORMAT", "SIZE"] and len(table) == 3
    code, out, _ = kanri("model", "remove", "echo", "2")
    assert (code, out.strip()) == (0, "removed echo v2")
    audit = json.loads(kanri("audit", "--json", "--since", "1h")[1])
    assert [e["action"] for e in audit] == ["model.remove", "model.upload", "model.upload", "model.upload",
                                            "app.create"]
    assert [e["result"] for e in audit][1] == "unchanged"


@pytest.mark.parametrize(("args", "message"), [
    (("app", "show", "nope"), "error: no application 'nope' (known: none; create one with kanri app create)"),
    (("app", "create", "Nope", "--predictor", "m:C"), "error: application name 'Nope' is not a DNS label"),
    (("model", "upload", "nope", "/no/such/file"), "error: cannot read model file /no/such/file"),
    (("weights", "nope", "production", "a=50", "b"), "error: weight 'b' must look like SERVICE=PERCENT"),
    (("switch", "nope", "svc", "2"), "error: no application 'nope'"),
    (("audit", "--since", "yesterday"), "error: --since 'yesterday' is neither a time"),
    (("autoscale", "nope", "svc", "--min", "1", "--max", "3"), "error: give one of --cpu-threshold, --concurrency"),
    (("autoscale", "nope", "svc", "--min", "1", "--max", "3", "--rps", "5", "--concurrency", "2"),
     "error: give one of --cpu-threshold, --concurrency"),
    (("autoscale", "nope", "svc", "--min", "0", "--max", "3", "--rps", "5", "--scale-to-zero-after", "soon"),
     "error: --scale-to-zero-after 'soon' is not a duration"),
    (("autoscale", "nope", "svc", "--min", "0", "--max", "3", "--rps", "5", "--scale-to-zero-after", "inf"),
     "error: --scale-to-zero-after 'inf' is not a duration"),
    (("autoscale", "nope", "svc", "--min", "0", "--max", "3", "--rps", "nan"), "error: the target of calls per second"),
])
def test_failures_are_one_line_on_stderr_and_exit_1(kanri: Kanri, args: tuple[str, ...], message: str) -> None:
    code, out, err = kanri(*args)
    assert code == 1 and out == ""
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_a_shared_database_is_only_migrated_by_db_upgrade(kanri: Kanri, monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    with database_url("mysql", tmp_path) as url:
        monkeypatch.setenv("KANRI_DATABASE_URL", url)
        code, _, err = kanri("app", "list")
        assert code == 1 and "has no kanri schema; run `kanri db upgrade` to create it" in err
        code, out, _ = kanri("db", "upgrade")
        assert code == 0 and out.strip().endswith("schema none → 0003")
        assert kanri("db", "upgrade")[1].strip().endswith("already at schema 0003")
        assert kanri("app", "list", "--json")[1].strip() == "[]"


def test_config_show_prints_the_effective_settings(kanri: Kanri, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("KANRI_DATABASE_URL", "mysql+pymysql://ops:pw@127.0.0.1:3306/kanri")
    shown = json.loads(kanri("config", "show", "--json")[1])
    assert shown["home"] == str(tmp_path / "home") and shown["database_url"].startswith("mysql+pymysql://ops:***@")
    assert "pw@" not in kanri("config", "show")[1]


def test_without_a_reachable_cluster_the_registry_keeps_the_change_and_render_prints_it(
        kanri: Kanri, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, echo_models: dict) -> None:
    monkeypatch.setenv("KANRI_CLUSTER", "kubernetes")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("KANRI_IMAGE", "registry.example/kanri:test")
    kanri("app", "create", "echo", "--predictor", "tests.support.predictors:Echo")
    kanri("model", "upload", "echo", str(echo_models["v1"]))
    code, _, err = kanri("service", "create", "echo", "echo-prod", "--level", "production", "--model", "1")
    assert code == 1 and err.startswith("error: the registry holds the change, but the cluster did not take it")
    [service] = json.loads(kanri("service", "list", "--json")[1])
    assert (service["name"], service["converged"], service["address"]) == ("echo-prod", False, "")
    shown = kanri("service", "show", "echo", "echo-prod")[1].splitlines()
    assert shown[-1].startswith("now") and "unknown: " in shown[-1]
    code, out, _ = kanri("render", "echo", "echo-prod")
    documents = list(yaml.safe_load_all(out))
    kinds = [d["kind"] for d in documents]
    assert code == 0 and kinds[0] == "Deployment" and "VirtualService" in kinds and "&id" not in out
    assert documents[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/kanri:test"
    assert json.loads(kanri("audit", "--json")[1])[0]["result"] == "cluster-failed"
