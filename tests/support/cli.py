"""The `kanri` command run in-process, as a user would run it in a shell set up with some environment."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pytest
from click.testing import CliRunner

from kanri.console.cli import main

Kanri = Callable[..., str]


def kanri_in(monkeypatch: pytest.MonkeyPatch, environment: Mapping[str, str], unset: Iterable[str] = ()) -> Kanri:
    """`kanri ARGS` with these variables set and those unset; returns its stdout, and fails the test with its
    stderr when it exits other than 0."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for name in ("KANRI_DATABASE_URL", *unset):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), prog_name="kanri", catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    return run
