"""What the demo consists of and where it lives: digits at three levels, two model versions, its own home."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kanri.console.config import Settings

Progress = Callable[[str], None]
"""Where the demo reports each step (the command prints them on stderr)."""

APP = "digits"
DIGITS = Path(__file__).resolve().parent / "digits"
"""examples/digits, shipped inside the package (a symlink in the source tree)."""
PREDICTOR = f"{DIGITS / 'predictor.py'}:Digits"

MODELS = {"digits-v1.skops": "logistic regression on raw pixels",
          "digits-v2.skops": "standardised pixels, stronger regularisation"}
"""The artifacts examples/digits/train.py writes, in version order, with their descriptions."""
TEST_IMAGES = "digits-test.jsonl"


@dataclass(frozen=True)
class DemoService:
    name: str
    level: str
    model: str
    """The artifact it runs (a key of MODELS): v2 has reached staging, production still runs v1."""
    replicas: int


SERVICES = (
    DemoService("digits-dev", "development", "digits-v2.skops", 1),
    DemoService("digits-stg", "staging", "digits-v2.skops", 1),
    DemoService("digits-prod", "production", "digits-v1.skops", 2),
    DemoService("digits-prod-b", "production", "digits-v1.skops", 1),
)
LEVELS = tuple(dict.fromkeys(service.level for service in SERVICES))
"""The levels the demo serves, in the order of SERVICES: traffic goes to each level's route."""
PRODUCTION_WEIGHTS = {"digits-prod": 90, "digits-prod-b": 10}


def demo_home() -> Path:
    """$XDG_DATA_HOME/kanri-demo: beside kanri's default home, not inside it, and never $KANRI_HOME."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser().resolve() / "kanri-demo"


def demo_settings(home: Path) -> Settings:
    """An embedded registry, model store and local cluster in home, whatever the user's configuration says."""
    return Settings(home=home, database_url=f"sqlite:///{home / 'registry.db'}", model_store=str(home / "models"))
