"""The two model versions and the held-out images, trained once into the demo home by examples/digits/train.py."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

from kanri.console.demo.plan import DIGITS, MODELS, TEST_IMAGES, Progress


def artifacts_dir(home: Path) -> Path:
    return home / "artifacts"


def ensure_trained(home: Path, progress: Progress) -> Path:
    """The folder holding MODELS and TEST_IMAGES; trains them only when one is missing.

    Training writes into a scratch folder renamed into place at the end, so an
    interrupted run never leaves half an artifact behind.
    """
    folder = artifacts_dir(home)
    if all((folder / name).is_file() for name in (*MODELS, TEST_IMAGES)):
        progress(f"models: already trained in {folder}")
        return folder
    progress("training digits v1 and v2 with scikit-learn (a few seconds)")
    home.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".artifacts-", dir=home))
    try:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):  # train() prints its accuracies; stdout is for the result
            train_module().train(scratch)
        for line in printed.getvalue().splitlines():
            progress("  " + line.partition(" -> ")[0])
        shutil.rmtree(folder, ignore_errors=True)
        scratch.rename(folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def train_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kanri_demo_digits_train", DIGITS / "train.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def held_out_images(home: Path) -> list[list[int]]:
    """The held-out images (64 pixel values each) the traffic sends: the models never saw them."""
    lines = (artifacts_dir(home) / TEST_IMAGES).read_text().splitlines()
    return [json.loads(line)["input"] for line in lines]
