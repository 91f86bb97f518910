"""The real `kanri demo` in a real 80×24 terminal (tmux), operated by keys alone: the README's promote flow.

Switch production to the other model and watch the rollout finish with no
failed request in the demo's traffic (the panel stays live: the old pods are
seen to go), set the weights to 50/50, scale up, list the keys, tail the
logs filtered to errors, quit. The screen is read with capture-pane and must
show every header and key whole at 80 columns; the registry and the traffic
counts (printed as JSON when the demo quits) must show every change.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kanri.console.demo.plan import APP, demo_settings
from kanri.console.ops import routes, services
from kanri.console.wiring import open_context
from tests.support.terminal import Terminal, terminal

pytestmark = pytest.mark.timeout(240)
SESSION = "kanri-test-demo"
SIZE = (80, 24)
SERVICES = ("digits-dev", "digits-stg", "digits-prod", "digits-prod-b")
PASSED_ENV = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "KANRI_HOME", "PATH")


@pytest.fixture
def demo_terminal(demo_home: Path, tmp_path: Path) -> Iterator[tuple[Terminal, Path]]:
    """`kanri demo --json` running in an 80x24 tmux session; its stdout (the traffic counts) goes to a file."""
    env = " ".join(f"{name}={shlex.quote(value)}" for name, value in os.environ.items()
                   if name in PASSED_ENV or name.startswith("KANRI_"))
    out = tmp_path / "demo.json"
    kanri = Path(sys.executable).with_name("kanri")
    with terminal(SESSION, f"env {env} TERM=xterm-256color {kanri} demo --rate 30 --json > {out}", SIZE) as term:
        yield term, out


def test_a_new_user_promotes_v2_at_80x24_by_keys(demo_terminal: tuple[Terminal, Path], demo_home: Path) -> None:
    term, out = demo_terminal
    term.wait_for("pods of digits-dev", timeout=150)
    term.wait_for("ok · 0 failed")  # the demo's traffic, live in the header
    header = term.line_with("digits-prod-b")
    assert header.split()[-4:] == list(SERVICES), header  # every service header whole, none cut
    footer = term.wait_for("? Keys").splitlines()[-1]
    assert "q Quit" in footer and "? Keys" in footer, footer  # at 80 columns too
    pods = term.line_with(" status ").split("▕")[-1]
    assert pods.split()[:3] == ["pod", "status", "ready"] and "…" not in pods, pods

    term.keys("Right", "Right")  # from digits-dev to digits-prod, on the newest model (v2)
    term.wait_for("digits-prod · v2")  # the focused cell, in full, above the grid
    term.wait_for("pods of digits-prod")
    term.keys("Enter")
    term.wait_for("Switch digits/digits-prod to v2?")
    term.text("digits-prod")
    term.keys("Enter")
    term.wait_for("rollout complete", timeout=90)
    assert "cancel" not in term.screen() and "escape close" in term.screen()  # only what still applies
    term.wait_for("Terminating", gone=True, timeout=60)  # the panel stays live: the old pods are seen to go
    term.escape_from("Rollout of digits/digits-prod")

    term.keys("w")
    term.wait_for("Route weights of digits at production")
    term.keys("BSpace", "BSpace")
    term.text("50")
    time.sleep(0.5)
    term.keys("Enter")
    term.wait_for("Set digits's production weights?")
    term.text("digits-prod")
    term.keys("Enter")
    term.wait_for("● 50%")

    term.keys("+")
    term.wait_for("Scale digits/digits-prod to 3?")
    term.text("digits-prod")
    term.keys("Enter")
    term.wait_for("rollout complete", timeout=90)
    term.escape_from("Rollout of digits/digits-prod")

    term.wait_for("scaling to 3", gone=True, timeout=20)  # the notices over the right side are gone
    term.keys("?")
    dialog = "\n".join(line for line in term.wait_for("tab moves between").splitlines() if "█" in line)
    assert dialog.count(" Quit") == 1 and dialog.count("Palette") == 1, dialog  # each action once
    term.escape_from("tab moves between")

    term.keys("l")
    term.wait_for("following")
    term.keys("/")  # at 80x24 the rollout's lines have scrolled away under the traffic's: search for them
    term.text("model 2")
    term.keys("Enter")
    term.wait_for("model 2 (sha256")  # the rollout's replicas said their model is live
    term.keys("/")
    term.keys("C-u", "Enter")  # the search cleared: errors of any text count
    term.keys("e")
    term.wait_for("level ≥ error")
    term.wait_for("no error or critical lines since")  # not a blank screen: says what it looked for
    term.escape_from("level ≥ error")
    term.wait_for("pods of digits-prod")
    shown = term.screen()
    assert "0 failed" in shown, shown

    term.keys("q")
    deadline = time.monotonic() + 30
    while term.running() and time.monotonic() < deadline:
        time.sleep(0.2)
    seen = json.loads(out.read_text())["levels"]
    assert all(level["failed"] == 0 for level in seen.values()), seen
    assert seen["production"]["versions"].get("2", 0) > 0  # answers from the model switched to, under traffic

    ctx = open_context(demo_settings(demo_home))
    try:
        prod = services.show_service(ctx, APP, "digits-prod")
        assert (prod.model_version, prod.replicas) == (2, 3)
        assert routes.show_route(ctx, APP, "production").weights == {"digits-prod": 50, "digits-prod-b": 50}
    finally:
        ctx.registry.close()
