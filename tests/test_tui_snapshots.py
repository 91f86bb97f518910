"""What the console looks like at the sizes operators have, 120×40 and 80×24: SVG snapshots of the main
screen (healthy, in trouble, empty, with its sources failing) and of the dialogs it opens.

The data is the demo's shape (tests/test_tui_snapshots_views.py has the other screens): digits with two
models described as the demo describes them, four services, pods named as Kubernetes names them, figures
and sparklines that are the same every run, ages and clocks fixed; beside it an application whose name is
too long for the applications column.

Regenerate after an intended change with `pytest tests/test_tui_snapshots*.py --snapshot-update`
and look at the text of every new SVG before committing it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from textual.pilot import Pilot
from textual.widgets import DirectoryTree, Input, Label

from kanri.console.cluster.base import Pod
from kanri.console.cluster.kubernetes import readback
from kanri.console.ops import applications, models, routes, services, slo
from kanri.console.ops.services import ServiceSettings
from kanri.console.registry import schema
from kanri.console.telemetry.types import (
    Figures,
    MetricsHistory,
    MetricsSnapshot,
    PodFigures,
    Series,
    ServiceFigures,
    TelemetryUnavailable,
)
from kanri.console.tui.app import KanriApp
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.widgets import model_grid
from kanri.console.tui.widgets.fit_line import FitLine
from tests.support import pod_objects as objects
from tests.support.console import console_data
from tests.support.memory_backend import MemoryBackend
from tests.support.servers import PREDICTORS
from tests.test_tui_main import main_screen, to_column, until

SIZES = [(120, 40), (80, 24)]
APP = "digits"
LONG_APP = "handwriting-recognition-experimental"
SERVICES = ("digits-dev", "digits-stg", "digits-prod", "digits-prod-b")
DESCRIPTIONS = {1: "logistic regression on raw pixels", 2: "standardised pixels, stronger regularisation"}
ACCURACY = {1: 0.9578, 2: 0.9711}
POD = Figures(requests_per_second=6.6, error_ratio=0.0, p50_seconds=0.0021, p99_seconds=0.0037, in_flight=0.0,
              cpu_cores=0.02, memory_bytes=168 * 2**20)
HISTORY = MetricsHistory(APP, 900.0, {name: {
    "requests_per_second": Series(tuple((float(t), 5.0 + t % 7 / 4) for t in range(0, 930, 30))),
    "p99_seconds": Series(tuple((float(t), 0.003 + (t % 5) / 2000) for t in range(0, 930, 30))),
    "cpu_cores": Series((*tuple((float(t), 0.01 + (t % 3) / 100) for t in range(0, 900, 30)), (900.0, 0.02)))}
    for name in SERVICES}, {})


def sized(test: Callable) -> Callable:
    return pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")(test)


def kubernetes_name(pod: Pod) -> str:
    """`digits-prod-6d95cac0-7lkg7`: the service, a template hash, a suffix, as a Deployment names them."""
    digest = hashlib.sha256(pod.name.encode()).hexdigest()
    return f"{pod.service}-{hashlib.sha256(pod.service.encode()).hexdigest()[:8]}-{digest[:5]}"


class DemoCluster(MemoryBackend):
    """The in-memory cluster with its replicas named as Kubernetes names them, and chosen extra pods."""

    def __init__(self) -> None:
        super().__init__()
        self.extra: list[Pod] = []

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        listed = [dataclasses.replace(p, name=kubernetes_name(p)) for p in super().pods(app, service)]
        return listed + [p for p in self.extra if p.app == app and service in (None, p.service)]


class FixedMetrics:
    """The same figures every run: every ready pod runs at POD, a service at the sum of its pods (with the
    error ratio chosen for it, if any)."""

    def __init__(self, cluster: MemoryBackend, failure: str = "", errors: dict[str, float] | None = None) -> None:
        self.cluster = cluster
        self.failure = failure
        self.errors = errors or {}

    def snapshot(self, app: str, service: str | None = None) -> MetricsSnapshot | TelemetryUnavailable:
        if self.failure:
            return TelemetryUnavailable(self.failure)
        groups: dict[str, list[PodFigures]] = {}
        for pod in self.cluster.pods(app, service):
            if pod.ready:
                groups.setdefault(pod.service, []).append(PodFigures(pod.name, pod.service, POD))
        return MetricsSnapshot(app, 0.0, tuple(
            ServiceFigures(name, dataclasses.replace(POD, requests_per_second=POD.requests_per_second * len(pods),
                                                     cpu_cores=POD.cpu_cores * len(pods),
                                                     error_ratio=self.errors.get(name, 0.0)), tuple(pods))
            for name, pods in sorted(groups.items())))

    def history(self, *args: object, **kwargs: object) -> MetricsHistory | TelemetryUnavailable:
        return TelemetryUnavailable(self.failure) if self.failure else HISTORY


def seed_demo(data: ConsoleData, echo_models: dict[str, Path]) -> None:
    """The demo's digits (two models, four services, production 90/10) and an application with no services."""
    ctx = data.ctx
    applications.create_app(ctx, APP, f"{PREDICTORS}:Echo")
    for version, description in DESCRIPTIONS.items():
        models.upload_model(ctx, APP, echo_models[f"v{version}"], description)
    for name, level, version in zip(SERVICES, ("development", "staging", "production", "production"), (2, 2, 1, 1),
                                    strict=True):
        services.create_service(ctx, APP, name, level, version,
                                ServiceSettings(replicas=2 if name == "digits-prod" else 1))
    routes.set_weights(ctx, APP, "production", {"digits-prod": 90, "digits-prod-b": 10})
    applications.create_app(ctx, LONG_APP, f"{PREDICTORS}:Echo")
    with ctx.registry.session() as session:
        for model in session.scalars(select(schema.Model)):
            session.add(schema.Evaluation(model=model, data_uri="digits-test.jsonl", data_sha256="0" * 64,
                                          metrics={"accuracy": ACCURACY[model.version]}))
        session.commit()


@pytest.fixture
def cluster() -> DemoCluster:
    return DemoCluster()


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: DemoCluster) -> Iterator[ConsoleData]:
    """A registry with nothing in it yet, and the clocks the screens read fixed."""
    monkeypatch.setattr(model_grid, "now", lambda: time.time() + 7200)  # every model is "2h" old
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")  # scrolling lands at once, not mid-animation
    with console_data(tmp_path, monkeypatch, cluster) as console:
        console.metrics = FixedMetrics(cluster)
        yield console


@pytest.fixture
def data(empty: ConsoleData, echo_models: dict[str, Path]) -> ConsoleData:
    seed_demo(empty, echo_models)
    return empty


async def settle(pilot: Pilot) -> None:
    """Messages handled, animations done, the screen painted: what a snapshot needs, without a fixed sleep."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False  # a blinking cursor is caught on or off at random
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def still(*keys: str, column: str = "digits-prod", figures: str = "rps 13.2"):
    """Wait for the grid and the figures, move to a service column, press keys, let the screen settle."""

    async def run_before(pilot: Pilot) -> None:
        await until(pilot, lambda: main_screen(pilot).grid.row_count == 2)
        await settle(pilot)  # the first layout, so the cursor scrolls the grid by real column widths
        await to_column(pilot, column)
        title = pilot.app.screen.query_one("#pods-title", FitLine)
        spark = pilot.app.screen.query_one("#spark-rps-label", Label)
        await until(pilot, lambda: figures in title.text and "rps " in str(spark.render()))
        if keys:
            await pilot.press(*keys)
        await settle(pilot)

    return run_before


@sized
def test_main_screen(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=still())


@sized
def test_main_screen_on_the_last_service(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    """The grid moved to its last column keeps the models' columns; the one-pod service's figures."""
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size,
                        run_before=still(column="digits-prod-b", figures="rps 6.6"))


@sized
def test_main_screen_in_trouble(snap_compare, data: ConsoleData, cluster: DemoCluster,
                                size: tuple[int, int]) -> None:
    """An SLO burning at paging speed with its alert, and a new pod that cannot fetch its predictor."""
    stuck = readback.pod(objects.fetch_crash_loop("digits-prod-7f9c2d1e-x4k2p"), "east")
    cluster.extra.append(dataclasses.replace(stuck, app=APP, service="digits-prod", model_version=2, age_seconds=95.0))
    for name in ("digits-prod", "digits-prod-b"):
        slo.set_slo(data.ctx, APP, name, 99.9, 100)
    data.metrics = FixedMetrics(cluster, errors={"digits-prod": 0.05})

    async def run_before(pilot: Pilot) -> None:
        await still(figures="errors 5.0%")(pilot)
        await until(pilot, lambda: pilot.app.screen.query_one("#alerts").display, timeout=20)
        await settle(pilot)

    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=run_before)


@sized
def test_main_screen_without_applications(snap_compare, empty: ConsoleData, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot) -> None:
        status = pilot.app.screen.query_one("#grid-status", FitLine)
        await until(pilot, lambda: "no applications" in status.text)
        await settle(pilot)

    assert snap_compare(KanriApp(empty, refresh_seconds=60), terminal_size=size, run_before=run_before)


@sized
def test_main_screen_when_the_cluster_and_metrics_fail(snap_compare, data: ConsoleData, cluster: DemoCluster,
                                                       size: tuple[int, int]) -> None:
    cluster.failure = "connection refused by the API server at https://10.0.0.1:6443"
    data.metrics = FixedMetrics(cluster, "Prometheus at http://prometheus:9090 did not answer in 5 s")

    async def run_before(pilot: Pilot) -> None:
        await until(pilot, lambda: main_screen(pilot).grid.row_count == 2)
        await to_column(pilot, "digits-prod")
        title = pilot.app.screen.query_one("#pods-title", FitLine)
        await until(pilot, lambda: "unavailable" in title.text)
        await settle(pilot)

    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=run_before)


@sized
def test_help(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=still("?"))


@sized
def test_switch_confirmation(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=still("enter"))


@sized
def test_weights_editor(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=still("w"))


@sized
def test_autoscale_form(snap_compare, data: ConsoleData, size: tuple[int, int]) -> None:
    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=still("a"))


@sized
def test_upload_picker(snap_compare, data: ConsoleData, size: tuple[int, int], tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    for name in ("digits-v3.skops", "digits-test.jsonl", "README.md"):
        (folder / name).write_text(name)
    monkeypatch.chdir(folder)  # the picker starts where the console was started

    async def run_before(pilot: Pilot) -> None:
        await still("u")(pilot)
        tree = pilot.app.screen.query_one("#picker-tree", DirectoryTree)
        await until(pilot, lambda: len(tree.root.children) == 3)
        await settle(pilot)

    assert snap_compare(KanriApp(data, refresh_seconds=60), terminal_size=size, run_before=run_before)
