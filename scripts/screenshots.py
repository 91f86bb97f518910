"""Regenerate screenshots/: the console's screens as SVG, taken on a live demo.

    .venv/bin/python scripts/screenshots.py

It sets the demo up in a throwaway home (the real local cluster, real
traffic), lets the sparklines fill for a while, then opens each screen at
120x40 through Textual's test driver and saves it. About two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from kanri.console.demo.artifacts import held_out_images  # noqa: E402
from kanri.console.demo.plan import APP, LEVELS, demo_settings  # noqa: E402
from kanri.console.demo.provision import provision  # noqa: E402
from kanri.console.demo.teardown import tear_down  # noqa: E402
from kanri.console.demo.traffic import Traffic  # noqa: E402
from kanri.console.tui.app import KanriApp  # noqa: E402
from kanri.console.tui.data import ConsoleData  # noqa: E402
from kanri.console.tui.screens.main import MainScreen  # noqa: E402
from kanri.console.wiring import open_context  # noqa: E402

SIZE = (120, 40)
# screenshot name -> the keys that lead to it from the main screen (on digits-prod, model v2)
SCREENS: dict[str, tuple[str, ...]] = {
    "main": (),
    "switch-confirmation": ("enter",),
    "weights": ("w",),
    "autoscale": ("a",),
    "logs": ("l",),
    "history": ("h",),
    "audit": ("A",),
    "drift": ("y",),
    "help": ("question_mark",),
}


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise RuntimeError("the console did not load in time")


async def shoot(data: ConsoleData, traffic: Traffic, name: str, keys: tuple[str, ...], out: Path) -> None:
    app = KanriApp(data, refresh_seconds=1.0, traffic=traffic)
    async with app.run_test(size=SIZE) as pilot:
        main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
        await until(pilot, lambda: main.grid.row_count > 0)
        await pilot.press("right", "right")
        await pilot.pause(4.0)  # pods, figures and sparklines of digits-prod
        await pilot.press(*keys)
        await pilot.pause(2.5)
        app.save_screenshot(f"{name}.svg", str(out))
    print(f"screenshots/{name}.svg", file=sys.stderr)


async def shoot_all(data: ConsoleData, traffic: Traffic, out: Path, warm_up: float) -> None:
    await asyncio.sleep(warm_up)
    for name, keys in SCREENS.items():
        await shoot(data, traffic, name, keys, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--warm-up", type=float, default=30.0, help="seconds of traffic before the first shot")
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kanri-screenshots-") as scratch:
        os.environ["XDG_DATA_HOME"] = scratch
        home = Path(scratch) / "kanri-demo"
        settings = demo_settings(home)
        ctx = open_context(settings)
        try:  # whatever fails, the demo's processes go with the scratch home
            try:
                provision(ctx, home, lambda line: print(line, file=sys.stderr))
                routes = {level: ctx.backend.address(APP, level) for level in LEVELS}
            finally:
                ctx.registry.close()
            traffic = Traffic(APP, routes, held_out_images(home), rate=30).start()
            data = ConsoleData(settings)
            try:
                asyncio.run(shoot_all(data, traffic, args.out, args.warm_up))
            finally:
                traffic.stop()
                data.close()
        finally:
            tear_down(home)


if __name__ == "__main__":
    main()
