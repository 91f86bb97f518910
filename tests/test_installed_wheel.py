"""kanri as a user installs it: the wheel, not the editable checkout, beside PyPI's `console` distribution.

That distribution ships console/__init__.py and console/cli.py; while kanri's
import names were `console` and `serving`, installing it beside kanri replaced
kanri's and `kanri --help` failed. The installed names are now kanri.console
and kanri.serving (setup.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ServeProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
PYPI_CONSOLE = "console==0.9912"  # ships console/__init__.py and console/cli.py
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "serving", "console", "examples/digits")
OLD_IMPORT = re.compile(r"^\s*(from|import) (serving|console)\b", re.MULTILINE)

UPPER = '''
from kanri.serving.predictor import PredictInterface, PredictResult


class Upper(PredictInterface):
    input_type = str
    output_type = str

    def load_model(self, model_path):
        self.suffix = open(model_path).read().strip()

    def predict(self, input, option):
        return PredictResult(input.upper() + self.suffix, 1.0)
'''


def test_no_module_imports_the_folder_names() -> None:
    """From the repository root `serving` imports too, as a second copy of every module: only kanri.* is installed."""
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    offenders = [name for name in tracked if OLD_IMPORT.search((ROOT / name).read_text())]
    assert offenders == []


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new virtual environment with kanri's wheel and PyPI's `console`; the dependencies come from the test
    environment's site-packages (a .pth line, which does not run the editable install's own .pth)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    for name in SOURCES:
        origin, target = ROOT / name, source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, target)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", tmp / "dist", source], check=True, capture_output=True, timeout=300)
    [wheel] = (tmp / "dist").glob("kanri-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = Path(subprocess.run([venv / "bin" / "python", "-c", where], capture_output=True, text=True,
                                  check=True).stdout.strip())
    (purelib / "test-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", wheel, PYPI_CONSOLE], check=True, capture_output=True, timeout=300)
    yield venv


def run_in(venv: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env={**os.environ, **(env or {})})


def test_both_console_packages_import_side_by_side(fresh_venv: Path, tmp_path: Path) -> None:
    done = run_in(fresh_venv, "python", "-c", "import console, kanri.console.cli, kanri.serving.client; print('FILES',"
                  " console.__file__, kanri.console.cli.__file__, kanri.serving.client.__file__)", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    theirs, console_cli, client = (Path(name) for name in done.stdout.rsplit("FILES ", 1)[1].split())
    assert theirs.parent.name == "console" and not theirs.is_relative_to(ROOT)
    for ours in (console_cli, client):  # the wheel's copy in the new environment, not the checkout
        assert ours.is_relative_to(fresh_venv) and "site-packages" in ours.parts


def test_kanri_help_lists_the_console_commands(fresh_venv: Path, tmp_path: Path) -> None:
    done = run_in(fresh_venv, "kanri", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("serve", "console", "demo", "switch", "weights"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.MULTILINE), done.stdout


def test_the_registry_migrates_from_the_files_the_wheel_ships(fresh_venv: Path, tmp_path: Path) -> None:
    """The migrations are a folder without __init__.py: a wheel that leaves it out cannot create the registry."""
    done = run_in(fresh_venv, "kanri", "db", "upgrade", cwd=tmp_path,
                  env={"KANRI_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.db'}"})
    assert done.returncode == 0, done.stderr


def test_kanri_serve_answers_the_sdk(fresh_venv: Path, tmp_path: Path) -> None:
    (tmp_path / "upper.py").write_text(UPPER)
    (tmp_path / "model.txt").write_text("!\n")
    port, log = free_port(), tmp_path / "serve.log"
    args = [str(fresh_venv / "bin" / "kanri"), "serve", "--predictor", "upper.py:Upper", "--model", "model.txt",
            "--port", str(port), "--workers", "1", "--model-store", "store"]
    server = ServeProcess(subprocess.Popen(args, cwd=tmp_path, stdout=log.open("w"), stderr=subprocess.STDOUT),
                          port, 0, log, args)
    try:
        server.wait_health(timeout=60)
        done = run_in(fresh_venv, "python", "-c", "from kanri.serving.client import Client\n"
                      f"with Client('{server.target}') as c: print(c.predict('wheel').label)", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "WHEEL!"
    finally:
        code = server.stop()
    assert code == 0, server.logs()
