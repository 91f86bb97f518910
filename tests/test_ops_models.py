"""Applications and model versions through the operations layer, on SQLite and MariaDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from kanri.console.errors import Conflict, Invalid, NotFound
from kanri.console.ops import applications, audit, models, services
from kanri.console.ops.context import Context
from kanri.console.ops.evaluate import evaluate_model, read_examples
from tests.support.servers import PREDICTORS


def make_app(ops: Context, name: str = "echo") -> None:
    applications.create_app(ops, name, f"{PREDICTORS}:Echo", "echoes")


def stored_files(ops: Context) -> list[str]:
    return sorted(p.name for p in Path(ops.store.root, "sha256").iterdir())


def test_application_names_are_dns_labels_and_unique(ops: Context) -> None:
    make_app(ops)
    with pytest.raises(Conflict, match="already exists"):
        make_app(ops)
    # "1echo" is a DNS label to RFC 1123 but cannot name a Kubernetes Service (RFC 1035)
    for bad in ("Echo", "-echo", "echo_1", "e" * 64, "", "1echo"):
        with pytest.raises(Invalid, match="not a DNS label"):
            applications.create_app(ops, bad, f"{PREDICTORS}:Echo")
    assert [a.name for a in applications.list_apps(ops)] == ["echo"]


def test_a_predictor_file_must_exist_and_is_recorded_absolute(ops: Context, tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="does not exist"):
        applications.create_app(ops, "x", str(tmp_path / "missing.py") + ":P")
    with pytest.raises(Invalid, match="must look like"):
        applications.create_app(ops, "x", "no-class-here")
    assert applications.create_app(ops, "y", "pkg.module:Predictor").predictor == "pkg.module:Predictor"
    assert applications.show_app(ops, "y").models == 0


def test_uploads_number_versions_and_identical_bytes_are_stored_once(ops: Context, echo_models: dict) -> None:
    make_app(ops)
    v1, new1 = models.upload_model(ops, "echo", echo_models["v1"], "first")
    v2, new2 = models.upload_model(ops, "echo", echo_models["v2"])
    again, new_again = models.upload_model(ops, "echo", echo_models["v1"])
    assert (v1.version, v2.version, again.version) == (1, 2, 1)
    assert (new1, new2, new_again) == (True, True, False)
    assert len(stored_files(ops)) == 2
    assert v1.size == echo_models["v1"].stat().st_size and v1.format == "file" and len(v1.sha256) == 64
    assert [(m.version, m.description, m.created_by) for m in models.list_models(ops, "echo")] == [
        (1, "first", "alice"), (2, "", "alice")]


def test_a_removed_version_number_is_never_given_again(ops: Context, echo_models: dict) -> None:
    make_app(ops)
    models.upload_model(ops, "echo", echo_models["v1"])
    models.upload_model(ops, "echo", echo_models["v2"])
    models.remove_model(ops, "echo", 2)
    assert stored_files(ops) == [f"{models.show_model(ops, 'echo', 1).sha256}.txt"]
    view, _ = models.upload_model(ops, "echo", echo_models["v2"])
    assert view.version == 3


def test_the_same_bytes_in_two_applications_share_one_file(ops: Context, echo_models: dict) -> None:
    make_app(ops, "a")
    make_app(ops, "b")
    models.upload_model(ops, "a", echo_models["v1"])
    models.upload_model(ops, "b", echo_models["v1"])
    models.remove_model(ops, "a", 1)
    assert len(stored_files(ops)) == 1  # b's version still needs it
    assert models.show_model(ops, "b", 1).version == 1


def test_removing_a_model_a_service_runs_is_refused(ops: Context, echo_models: dict) -> None:
    make_app(ops)
    models.upload_model(ops, "echo", echo_models["v1"])
    services.create_service(ops, "echo", "echo-dev", "development", 1)
    with pytest.raises(Conflict, match="in use by service"):
        models.remove_model(ops, "echo", 1)
    assert models.show_model(ops, "echo", 1).used_by == ["echo-dev"]


def test_bad_uploads_write_nothing(ops: Context, echo_models: dict, tmp_path: Path) -> None:
    make_app(ops)
    with pytest.raises(Invalid, match="cannot read model file"):
        models.upload_model(ops, "echo", tmp_path / "missing.bin")
    with pytest.raises(Invalid, match="cannot read model file"):
        models.upload_model(ops, "echo", tmp_path)
    with pytest.raises(NotFound, match="no application 'nope' \\(known: echo\\)"):
        models.upload_model(ops, "nope", echo_models["v1"])
    assert models.list_models(ops, "echo") == []
    assert not Path(ops.store.root).exists()
    with pytest.raises(NotFound, match="has no model version 7"):
        models.show_model(ops, "echo", 7)


def test_every_change_and_refusal_is_audited(ops: Context, echo_models: dict) -> None:
    make_app(ops)
    models.upload_model(ops, "echo", echo_models["v1"])
    with pytest.raises(Conflict):
        make_app(ops)
    trail = audit.audit_trail(ops)
    assert [(e.action, e.target, e.result, e.actor) for e in trail] == [
        ("app.create", "echo", "refused", "alice"),
        ("model.upload", "echo/v1", "ok", "alice"),
        ("app.create", "echo", "ok", "alice"),
    ]
    assert trail[0].error == "application 'echo' already exists"
    assert trail[1].after["version"] == 1
    assert [e.action for e in audit.audit_trail(ops, target="echo/")] == ["model.upload"]


def test_evaluation_runs_the_model_in_a_real_runtime_and_is_kept(ops: Context, digits_models: dict) -> None:
    applications.create_app(ops, "digits", str(Path("examples/digits/predictor.py").resolve()) + ":Digits")
    models.upload_model(ops, "digits", digits_models["digits-v2.skops"])
    steps: list[str] = []
    view = evaluate_model(ops, "digits", 1, str(digits_models["digits-test.jsonl"]), progress=steps.append)
    assert view.metrics["count"] == 450 and view.metrics["accuracy"] > 0.95
    assert steps == ["starting a runtime for digits v1", "evaluating 450 examples"]
    assert models.show_model(ops, "digits", 1).evaluation["accuracy"] == view.metrics["accuracy"]


def test_evaluation_refuses_a_data_set_it_cannot_read(ops: Context, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": [1], "label": "1"}\n{"oops": 1}\n')
    with pytest.raises(Invalid, match="line 2 is not a JSON object with 'input' and 'label'"):
        read_examples(str(bad))
    with pytest.raises(Invalid, match="cannot read the data set"):
        read_examples(str(tmp_path / "missing.jsonl"))
