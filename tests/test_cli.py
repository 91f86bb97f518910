"""`kanri` as a user runs it: help, clear errors, generated protos up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from kanri.console.cli import main
from tests.support.servers import PREDICTORS, ROOT, start_serve


def test_generated_protos_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, "scripts/gen_protos.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output and "startapp" in result.output


def test_serve_refuses_a_predictor_it_cannot_load() -> None:
    result = CliRunner().invoke(main, ["serve", "--predictor", "nowhere.py:Nothing"])
    assert result.exit_code != 0
    assert "cannot load predictor nowhere.py:Nothing" in result.output
    result = CliRunner().invoke(main, ["serve", "--predictor", "tests.support.predictors:Echo",
                                       "--service-level", "prod"])
    assert result.exit_code == 2
    assert "'prod' is not one of" in result.output


def test_serve_says_when_the_port_is_taken(tmp_path: Path, echo_models: dict[str, Path]) -> None:
    first = start_serve(tmp_path, f"{PREDICTORS}:Echo", str(echo_models["v1"]))
    try:
        second = subprocess.run([sys.executable, "-m", "kanri.serving", "serve", "--predictor", f"{PREDICTORS}:Echo",
                                 "--port", str(first.port)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{first.port}" in second.stderr
    finally:
        first.stop()


def test_startapp_creates_an_app(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["startapp", "sentiment", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sentiment" / "predictor.py").is_file()
    again = CliRunner().invoke(main, ["startapp", "sentiment", "--directory", str(tmp_path)])
    assert again.exit_code == 1 and "exists" in again.output
