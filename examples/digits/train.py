"""Train two versions of a handwritten-digits classifier and save them with skops.

The versions differ in preprocessing and regularisation, so rolling from v1 to
v2 is a real model change with a measurable accuracy difference. The held-out
rows are written out too, so a served model can be evaluated on data it never saw.

    python examples/digits/train.py --out DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import skops.io as sio
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 0
TEST_FILE = "digits-test.jsonl"


def build_models() -> dict[str, BaseEstimator]:
    """The two versions, keyed by the file stem they are saved under."""
    return {
        "digits-v1": LogisticRegression(max_iter=5000),
        "digits-v2": make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000)),
    }


def train(out_dir: Path) -> list[Path]:
    """Fit both versions on a fixed split; return the model files, then the test file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pixels, digits = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        pixels, digits, test_size=0.25, stratify=digits, random_state=SEED
    )
    written = []
    for stem, model in build_models().items():
        model.fit(x_train, y_train)
        path = out_dir / f"{stem}.skops"
        sio.dump(model, path)
        print(f"{stem}: test accuracy {model.score(x_test, y_test):.4f} -> {path}")
        written.append(path)
    test_path = out_dir / TEST_FILE
    with test_path.open("w") as out:
        for row, digit in zip(x_test.astype(int).tolist(), y_test.tolist(), strict=True):
            out.write(json.dumps({"input": row, "label": str(digit)}) + "\n")
    written.append(test_path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description="Train digits-v1 and digits-v2 and save them with skops.")
    parser.add_argument("--out", type=Path, default=Path("."), help="output directory (default: current)")
    train(parser.parse_args().out)


if __name__ == "__main__":
    main()
