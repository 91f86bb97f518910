"""Console benchmark (issue 7): first screen, grid refresh, memory, keystroke latency while logs pour in.

The registry holds 200 applications × 10 services × 100 models (SQLite,
written in bulk), and the cluster serves 500 pods in-process (the first
application's, 50 per service; tests/support/memory_backend.py with pods).
Every figure is set beside the same measure of an empty app (an App with just
a Static) taken in the same run:

* first screen   from before ConsoleData opens the registry to the end of
                 the first paint showing the first application's grid (100
                 model rows) and all 200 applications; the empty app: to its
                 first paint. A fresh process per sample, the console's
                 modules imported before the clock starts (what they import
                 lazily on first use is counted). Target: < 0.5 s.
* grid refresh   ModelGrid.show of a 100 models × 100 services AppGrid
                 (10,000 cells) on a fresh grid, then a refresh where every
                 service's weight and ready count changed, each up to the end
                 of the paint that shows it (and the refresh's show() call
                 alone). The empty app: Static.update with the same 10,000
                 cells as text, to the end of its paint. Target: < 30 ms.
* memory         RSS of that process 2 s after the first screen, and at the
                 end of the keystroke run below. Target: < 150 MB.
* keystroke      with a separate process appending runtime JSON lines to one
                 pod's log file at 5,000 lines/s and the logs screen tailing
                 it (the screen's defaults: 2 s polls, 0.25 s while lines
                 flow; at most 5,000 lines kept), pageup/pagedown on the log
                 50-150 ms after the previous key's scroll ended: from
                 sending the key to the end of the first paint after the
                 scroll. The empty app: a key that updates its Static, with
                 the same writer running. Target: < 50 ms.

Grid refresh and keystroke latency are measured at both terminal sizes
operators have, 120×40 and 80×24 (the first screen and memory at 120×40).

Paints are timed at the end of App._display, which also renders the update
to terminal bytes as a terminal driver would (the headless driver skips it).

    python bench/console.py           # ~6 minutes
    python bench/console.py --quick   # ~3 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APPS, SERVICES, MODELS, PODS = 200, 10, 100, 500
REPLICAS = PODS // SERVICES  # the first application's services run all the pods, as many as they want
GRID_MODELS = GRID_SERVICES = 100
LEVELS = ("development",) * 3 + ("staging",) * 3 + ("production",) * 4
LOG_RATE = 5000
SIZE = (120, 40)
SIZES = ((120, 40), (80, 24))  # the grid refresh and the keystrokes, at each


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def app_name(i: int) -> str:
    return f"app-{i:03d}"


def service_name(i: int, s: int) -> str:
    return f"{app_name(i)}-s{s}"


# seeding (parent process)

def seed(home: Path) -> None:
    """The registry in bulk, as console.ops would leave it: every service converged, weights summing to 100."""
    from sqlalchemy import insert

    from kanri.console.config import load
    from kanri.console.registry import schema
    from kanri.console.registry.database import Registry

    settings = load()
    registry = Registry(settings.database_url, auto_upgrade=True)
    now = datetime.now(UTC)
    apps, models, services, routes, weights = [], [], [], [], []
    for i in range(APPS):
        app_id = i + 1
        apps.append({"id": app_id, "name": app_name(i), "predictor": "tests.support.predictors:Echo",
                     "description": f"application {i}", "last_model_version": MODELS, "created_at": now})
        models += [{"id": i * MODELS + v, "application_id": app_id, "version": v, "sha256": f"{i:032x}{v:032x}",
                    "size": 1024, "format": "skops", "uri": f"{home}/models/{i}/{v}", "filename": "model.skops",
                    "description": f"model {v} of {app_name(i)}", "created_at": now, "created_by": "bench"}
                   for v in range(1, MODELS + 1)]
        for level in sorted(set(LEVELS)):
            members = [s for s in range(SERVICES) if LEVELS[s] == level]
            route_id = len(routes) + 1
            routes.append({"id": route_id, "application_id": app_id, "level": level})
            shares = [100 // len(members)] * len(members)
            shares[0] += 100 - sum(shares)
            for s, share in zip(members, shares, strict=True):
                service_id = i * SERVICES + s + 1
                version = MODELS - s * 7
                services.append({"id": service_id, "application_id": app_id, "name": service_name(i, s),
                                 "level": level, "model_id": i * MODELS + version, "replicas": REPLICAS,
                                 "min_replicas": REPLICAS, "max_replicas": REPLICAS, "converged": True})
                weights.append({"route_id": route_id, "service_id": service_id, "weight": share})
    with registry.session() as session:
        for table, rows in ((schema.Application, apps), (schema.Model, models), (schema.Service, services),
                            (schema.Route, routes), (schema.RouteWeight, weights)):
            session.execute(insert(table), rows)
        session.commit()
    registry.close()


# what the children share

def fleet_backend() -> Any:
    """tests/support/memory_backend.py with the first application's 500 pods, 50 per service."""
    from kanri.console.cluster.base import Pod
    from tests.support.memory_backend import MemoryBackend

    pods = [Pod(name=f"{service_name(0, p % SERVICES)}-{p:03d}", app=app_name(0), service=service_name(0, p % SERVICES),
                level=LEVELS[p % SERVICES], phase="Running", ready=True, restarts=0, age_seconds=3600.0,
                model_version=MODELS - (p % SERVICES) * 7, host="127.0.0.1") for p in range(PODS)]

    class FleetBackend(MemoryBackend):
        def pods(self, app: str, service: str | None = None) -> list[Pod]:
            return [p for p in pods if p.app == app and service in (None, p.service)]

    return FleetBackend()


def console_data() -> Any:
    from kanri.console.config import load
    from kanri.console.ops.context import Context
    from kanri.console.registry.database import Registry
    from kanri.console.tui.data import ConsoleData
    from kanri.serving.models import ModelStore

    settings = load()
    backend = fleet_backend()
    ctx = Context(Registry(settings.database_url), ModelStore(settings.model_store), lambda: backend, actor="bench")
    return ConsoleData(settings, context=ctx)


class Paints:
    """End times of the app's paints; `first_when` is the first paint at which `ready()` held."""

    def __init__(self, app: Any, ready: Callable[[], bool] = lambda: True) -> None:
        from textual._compositor import CompositorUpdate

        self.times: list[float] = []
        self.first_when: float | None = None
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
            now = time.perf_counter()
            self.times.append(now)
            if self.first_when is None and ready():
                self.first_when = now

        app._display = display

    async def after(self, moment: float, timeout: float = 5.0) -> float:
        """The end of the first paint that ended after `moment`."""
        deadline = time.perf_counter() + timeout
        while True:
            index = bisect.bisect_right(self.times, moment)
            if index < len(self.times):
                return self.times[index]
            if time.perf_counter() > deadline:
                raise TimeoutError("no paint")
            await asyncio.sleep(0.0005)


async def wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the screen did not get there")
        await asyncio.sleep(0.002)


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def empty_app_class() -> type:
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.widgets import Static

    class Empty(App):
        BINDINGS: ClassVar = [Binding("pageup", "flip('up')"), Binding("pagedown", "flip('down')")]
        acted = 0.0

        def compose(self) -> ComposeResult:
            yield Static("empty", id="static")

        def action_flip(self, direction: str) -> None:
            self.query_one(Static).update(direction)
            self.acted = time.perf_counter()

    return Empty


# child: first screen and memory

async def first_screen(peer: str) -> dict[str, float]:
    if peer == "empty":
        empty = empty_app_class()
        started = time.perf_counter()
        app = empty()
        paints = Paints(app)
    else:
        import sqlalchemy.dialects.sqlite  # noqa: F401 - imported on first connect: an import, not screen time

        from kanri.console.tui.app import KanriApp
        from kanri.console.tui.widgets.app_list import AppList
        from kanri.console.tui.widgets.model_grid import ModelGrid

        started = time.perf_counter()
        app = KanriApp(console_data())

        def ready() -> bool:
            screen = app.screen
            grids, lists = screen.query(ModelGrid), screen.query(AppList)
            return bool(grids and lists and grids.first().row_count == MODELS and len(lists.first().apps) == APPS)

        paints = Paints(app, ready)
    async with app.run_test(size=SIZE):
        await wait(lambda: paints.first_when is not None)
        first = paints.first_when - started
        await asyncio.sleep(2.0)
        return {"first_screen_s": first, "rss_mb": rss_mb()}


# child: grid refresh

def synthetic_grid(weight: int, ready: int) -> Any:
    """100 models × 100 services; every service runs some model, at `weight` %, with `ready` pods ready."""
    from kanri.console.ops.views import ModelView, ServiceView
    from kanri.console.tui.data import AppGrid, ServiceColumn

    now = datetime.now(UTC)
    models = tuple(ModelView("grid", v, "0" * 64, 1024, "skops", "", "model.skops", f"model {v}", now, "bench",
                             {"accuracy": 0.9 + v / 1000}) for v in range(1, GRID_MODELS + 1))
    columns = []
    for s in range(GRID_SERVICES):
        level = ("development", "staging", "production")[s * 3 // GRID_SERVICES]
        service = ServiceView("grid", f"grid-s{s:02d}", level, 1 + s % GRID_MODELS, None, 5, 5, 5, False, 80, "", "",
                              "", "", 0, 1, 0, 0, 50051, "", "", weight, True, "", now, 1)
        columns.append(ServiceColumn(service, 5, ready, 5))
    return AppGrid("grid", models, tuple(columns), (), ())


async def grid_refresh(rounds: int, size: tuple[int, int]) -> dict[str, list[float]]:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from kanri.console.tui.widgets.model_grid import ModelGrid

    grids = [synthetic_grid(weight, ready) for weight, ready in ((10, 5), (20, 4))]
    texts = ["\n".join(" ".join(f"●{w:>3}" for _ in range(GRID_SERVICES)) for _ in range(GRID_MODELS))
             for w in (10, 20)]

    class Host(App):
        CSS = "ModelGrid { height: 3fr; } #static { height: 1fr; }"

        def compose(self) -> ComposeResult:
            yield ModelGrid(id="grid")
            yield Static(id="static")

    results: dict[str, list[float]] = {"first": [], "refresh": [], "refresh_show": [], "peer": []}
    app = Host()
    paints = Paints(app)
    async with app.run_test(size=size) as pilot:
        for r in range(rounds):
            grid = ModelGrid(id="grid")
            await app.query_one("#grid").remove()
            await app.mount(grid, before=0)
            await pilot.pause()
            started = time.perf_counter()
            grid.show(grids[0])
            results["first"].append(await paints.after(started) - started)
            await pilot.pause(0.05)
            started = time.perf_counter()
            grid.show(grids[1])  # every weight and ready count differs from grids[0]
            results["refresh_show"].append(time.perf_counter() - started)
            results["refresh"].append(await paints.after(started) - started)
            await pilot.pause(0.05)
            static = app.query_one("#static", Static)
            started = time.perf_counter()
            static.update(texts[r % 2])
            results["peer"].append(await paints.after(started) - started)
            await pilot.pause(0.05)
    return results


# child: keystroke latency while logs arrive

def writer(path: Path, seconds: float) -> None:
    """Runtime JSON lines (serving/logs.py's shape) at LOG_RATE lines/s, in 10 ms batches, on schedule."""
    path.parent.mkdir(parents=True, exist_ok=True)
    app, service, pod = path.parent.parent.name, path.parent.name, path.stem
    batch = LOG_RATE // 100
    started, seq = time.monotonic(), 0
    with path.open("a") as f:
        while (elapsed := time.monotonic() - started) < seconds:
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
            lines = []
            for _ in range(batch):
                seq += 1
                level = "error" if seq % 50 == 0 else "info"
                lines.append(json.dumps({
                    "@timestamp": stamp, "level": level, "logger": "kanri.request", "app": app, "service": service,
                    "service_level": "production", "pod": pod, "pid": os.getpid(), "model_version": "100",
                    "message": f"Predict {'INTERNAL' if level == 'error' else 'OK'} seq {seq}",
                    "request_id": f"{seq:016x}", "method": "Predict", "latency_ms": 1.234, "code": "OK"}))
            f.write("\n".join(lines) + "\n")
            f.flush()
            time.sleep(max(0.0, seq / LOG_RATE - elapsed))


async def keystrokes(peer: str, presses: int, size: tuple[int, int]) -> dict[str, Any]:
    from kanri.console.cluster.local.paths import LocalPaths
    from kanri.console.config import load

    service = service_name(0, 0)
    path = LocalPaths(load().home).pod_log(app_name(0), service, f"{service}-000")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    # Writes until stopped below (bounded all the same), so every keystroke meets the full rate.
    feeder = subprocess.Popen([sys.executable, __file__, "--child", "writer", "--path", str(path),
                               "--seconds", "600"])
    writing_since = time.perf_counter()
    try:
        if peer == "empty":
            app = empty_app_class()()
            paints = Paints(app)
            async with app.run_test(size=size) as pilot:
                await asyncio.sleep(3.0)
                latencies = await press_and_time(pilot, paints, lambda: app.acted, presses)
                return {"latency_s": latencies, "rss_mb": rss_mb()}
        return await tail_keystrokes(path, service, presses, writing_since, size)
    finally:
        feeder.terminate()
        feeder.wait(10)


async def press_and_time(pilot: Any, paints: Paints, acted: Callable[[], float], presses: int) -> list[float]:
    latencies = []
    for n in range(presses):
        started = time.perf_counter()
        await pilot.press("pageup" if n % 2 == 0 else "pagedown")
        await wait(lambda started=started: acted() > started, 5.0)
        latencies.append(await paints.after(acted()) - started)
        await asyncio.sleep(random.uniform(0.05, 0.15))
    return latencies


async def tail_keystrokes(path: Path, service: str, presses: int, writing_since: float,
                          size: tuple[int, int]) -> dict[str, Any]:
    from kanri.console.tui.app import KanriApp
    from kanri.console.tui.screens.logs import LogsScreen

    app = KanriApp(console_data())
    paints = Paints(app)
    async with app.run_test(size=size) as pilot:
        screen = LogsScreen(app.data, app_name(0), service)
        await app.push_screen(screen)
        await wait(lambda: screen.tail.line_count > 1000)
        acted = {"at": 0.0}
        for name in ("action_page_up", "action_page_down"):
            action = getattr(screen.tail, name)

            def timed(action: Callable[[], None] = action) -> None:
                action()
                acted["at"] = time.perf_counter()

            setattr(screen.tail, name, timed)
        latencies = await press_and_time(pilot, paints, lambda: acted["at"], presses)
        last = screen.tail.lines[-1]
        written = sum(1 for _ in path.open())
        return {"latency_s": latencies, "rss_mb": rss_mb(), "lines_written": written,
                "rate": written / (time.perf_counter() - writing_since),
                "lag_lines": written - int(last.rsplit("seq ", 1)[1])}


# parent

def child(mode: str, peer: str, env: dict[str, str], *extra: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--peer", peer, *extra], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"the {mode} measure of {peer} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--peer", default="kanri", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--size", default="120x40", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = tuple(int(n) for n in args.size.split("x"))
    if args.child == "writer":
        writer(Path(args.path), args.seconds)
        return
    if args.child:
        run = {"first": lambda: first_screen(args.peer), "grid": lambda: grid_refresh(args.rounds, size),
               "keys": lambda: keystrokes(args.peer, args.rounds, size)}[args.child]
        print(json.dumps(asyncio.run(run())))
        return

    repeats, rounds, presses = (3, 5, 40) if args.quick else (5, 15, 100)
    with tempfile.TemporaryDirectory(prefix="kanri-bench-console-") as folder:
        home = Path(folder) / "home"
        home.mkdir()
        env = {**os.environ, "KANRI_HOME": str(home), "XDG_CONFIG_HOME": str(Path(folder) / "config")}
        for variable in ("KANRI_CONFIG", "KANRI_DATABASE_URL", "KANRI_MODEL_STORE", "KANRI_CLUSTER",
                         "KANRI_PROMETHEUS_URL", "KANRI_ELASTICSEARCH_URL"):
            env.pop(variable, None)
        os.environ.update(env)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        seed(home)
        log(f"seeded {APPS} applications × {SERVICES} services × {MODELS} models in "
            f"{time.perf_counter() - started:.1f} s")
        samples: dict[str, list[dict[str, Any]]] = {"kanri": [], "empty": []}
        for r in range(repeats):
            for peer in ("kanri", "empty"):
                samples[peer].append(child("first", peer, env))
            log(f"first screen, round {r + 1}/{repeats}: kanri {ms(samples['kanri'][-1]['first_screen_s'])}, "
                f"empty {ms(samples['empty'][-1]['first_screen_s'])}")
        grids, keys = {}, {}
        for width, height in SIZES:
            named = f"{width}x{height}"
            grids[named] = child("grid", "kanri", env, "--rounds", str(rounds), "--size", named)
            log(f"grid refresh at {named} done")
            keys[named] = {peer: child("keys", peer, env, "--rounds", str(presses), "--size", named)
                           for peer in ("kanri", "empty")}
            log(f"keystrokes at {named} done")

    def median(peer: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[peer])

    def quantile(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))]

    def megabytes(value: float) -> str:
        return f"{value:.0f} MB"

    rows = [
        ("first screen", median("kanri", "first_screen_s"), median("empty", "first_screen_s"), 0.5, ms),
        ("RSS 2 s after first screen", median("kanri", "rss_mb"), median("empty", "rss_mb"), 150, megabytes),
    ]
    for named, grid in grids.items():
        tail = keys[named]
        rows += [
            (f"{named} grid: first show, 10,000", statistics.median(grid["first"]), statistics.median(grid["peer"]),
             0.030, ms),
            (f"{named} grid: refresh, 10,000", statistics.median(grid["refresh"]), statistics.median(grid["peer"]),
             0.030, ms),
            ("  of which ModelGrid.show", statistics.median(grid["refresh_show"]), None, 0.030, ms),
            (f"{named} RSS, logs at 5,000 lines/s", tail["kanri"]["rss_mb"], tail["empty"]["rss_mb"], 150,
             megabytes),
            (f"{named} keystroke → paint, median", statistics.median(tail["kanri"]["latency_s"]),
             statistics.median(tail["empty"]["latency_s"]), 0.050, ms),
            (f"{named} keystroke → paint, p95", quantile(tail["kanri"]["latency_s"], 0.95),
             quantile(tail["empty"]["latency_s"], 0.95), 0.050, ms),
            (f"{named} keystroke → paint, max", max(tail["kanri"]["latency_s"]), max(tail["empty"]["latency_s"]),
             0.050, ms),
        ]
    print(f"{'measure':<36} {'kanri':>10} {'empty app':>10} {'ratio':>7} {'target':>10}  met")
    for name, kanri, empty, target, show in rows:
        peer, ratio = ("", "") if empty is None else (show(empty), f"{kanri / empty:.1f}×")
        print(f"{name:<36} {show(kanri):>10} {peer:>10} {ratio:>7} {show(target):>10}  "
              f"{'yes' if kanri < target else 'NO'}")
    for named, tail in keys.items():
        logged = tail["kanri"]
        print(f"\nlogs at {named}: {logged['lines_written']} lines written during the keystrokes, "
              f"{logged['rate']:.0f} lines/s; the tail was {logged['lag_lines']} lines "
              f"({logged['lag_lines'] / LOG_RATE:.1f} s) behind at the end")
    print(f"load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
          f"on {os.cpu_count()} cores")
    print(f"medians over {repeats} processes (first screen, RSS), {rounds} rounds (grid), "
          f"{presses} keystrokes (latency)")


if __name__ == "__main__":
    main()
