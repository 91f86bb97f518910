"""The `kanri` command: the runtime's commands never load the console; the others say how to get it."""

from __future__ import annotations

import json
import subprocess
import sys

CONSOLE_MODULES = ("kanri.console", "sqlalchemy", "alembic", "kubernetes", "textual", "elasticsearch", "yaml")


def run_entry(*args: str, hide_console: bool = False) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`kanri ARGS` in a fresh interpreter; with hide_console, as if the console's dependencies were not installed
    (SQLAlchemy cannot be imported). Also the console's modules the process loaded."""
    hide = "import sys; sys.modules['sqlalchemy'] = None\n" if hide_console else ""
    code = (f"{hide}import json, sys\nsys.argv = ['kanri', *{list(args)!r}]\nfrom serving.entry import main\n"
            "try:\n    main()\nfinally:\n"
            f"    print('LOADED', json.dumps([p for p in {CONSOLE_MODULES!r}"
            f" if any(m == p or m.startswith(p + '.') for m in sys.modules if sys.modules[m])]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return done, json.loads(done.stdout.rsplit("LOADED ", 1)[-1])


def test_kanri_serve_loads_nothing_of_the_console() -> None:
    done, loaded = run_entry("serve", "--help")
    assert done.returncode == 0 and "Serve a predictor" in done.stdout
    assert loaded == []


def test_without_the_console_a_console_command_says_how_to_get_it() -> None:
    done, _ = run_entry("app", "list", hide_console=True)
    assert done.returncode == 1
    assert "error: kanri app is part of the console, which needs packages this installation lacks (sqlalchemy); " \
           "install them with: pip install 'kanri[console]'" in done.stderr


def test_without_the_console_kanri_help_lists_the_runtime_and_names_the_extra() -> None:
    done, _ = run_entry("--help", hide_console=True)
    assert done.returncode == 0 and "serve" in done.stdout and "startapp" in done.stdout
    assert "pip install 'kanri[console]'" in done.stdout


def test_with_the_console_every_command_is_there() -> None:
    done, loaded = run_entry("--help")
    assert done.returncode == 0 and "switch" in done.stdout and "kanri.console" in loaded
