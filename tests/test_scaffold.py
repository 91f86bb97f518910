"""`kanri startapp` writes an app whose own tests pass, and refuses bad requests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kanri.serving.scaffold import app_class_name, startapp

ROOT = Path(__file__).resolve().parents[1]


def test_generated_app_passes_its_own_tests(tmp_path: Path) -> None:
    app_dir = startapp("movie-review", tmp_path)
    assert app_dir == tmp_path / "movie-review"
    assert sorted(p.name for p in app_dir.iterdir()) == ["README.md", "predictor.py", "test_predictor.py", "train.py"]
    assert "class MovieReview(PredictInterface):" in (app_dir / "predictor.py").read_text()
    assert "movie-review-v1.skops" in (app_dir / "train.py").read_text()
    assert "--predictor movie-review/predictor.py:MovieReview" in (app_dir / "README.md").read_text()

    pythonpath = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(app_dir)],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


@pytest.mark.parametrize(
    ("name", "class_name"),
    [("sentiment", "Sentiment"), ("movie-review-2", "MovieReview2"), ("x", "X"), ("a" * 63, "A" + "a" * 62)],
)
def test_class_name(name: str, class_name: str) -> None:
    assert app_class_name(name) == class_name


@pytest.mark.parametrize(
    "name",
    ["", "Sentiment", "1app", "-app", "app-", "my_app", "my.app", "../app", "a/b", "a" * 64, "none", "predict-result"],
)
def test_invalid_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="invalid app name"):
        startapp(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "sentiment").mkdir()
    (tmp_path / "sentiment" / "predictor.py").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        startapp("sentiment", tmp_path)
    assert (tmp_path / "sentiment" / "predictor.py").read_text() == "mine"
    assert [p.name for p in (tmp_path / "sentiment").iterdir()] == ["predictor.py"]
