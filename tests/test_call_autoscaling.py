"""Autoscaling on calls in the embedded cluster: the KPA's arithmetic, the routers' counters, held calls at zero,
and a service going to zero and waking on its first call through a real router."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from kanri.console.cluster.base import ModelRef, ServiceSpec
from kanri.console.cluster.local import LocalBackend
from kanri.console.cluster.local import routing as routing_module
from kanri.console.cluster.local.balancer import Balancer
from kanri.console.cluster.local.call_autoscaler import CallAutoscaler, Sample
from kanri.console.cluster.local.call_load import CallMeter, LevelLoad
from kanri.console.cluster.local.router_table import RouterTable
from kanri.console.cluster.local.routing import NoReplica, Routing
from kanri.serving.client import Client, ServingError
from kanri.serving.models import ModelStore
from tests.support.backends import ECHO, local_backend
from tests.support.load import SteadyLoad

SPEC = ServiceSpec(app="a", name="s", level="development", predictor=ECHO, model=ModelRef(1, "file:///m", ""),
                   model_store="/m", autoscale=True, min_replicas=0, max_replicas=10, scale_metric="concurrency",
                   scale_target=2.0, scale_to_zero_after=30.0)


def feed(scaler: CallAutoscaler, start: float, seconds: float, concurrency: float, rps: float,
         before: Sample | None = None, step: float = 0.5) -> Sample:
    """Samples every step seconds of a steady load, from `before` on; returns the last."""
    last = before or Sample(start, 0, 0, 0)
    scaler.observe(last)
    for n in range(1, int(seconds / step) + 1):
        last = Sample(start + n * step, last.started + rps * step, last.busy_seconds + concurrency * step, 0)
        scaler.observe(last)
    return last


def test_the_stable_window_sets_the_replicas_from_calls_in_flight_or_per_second() -> None:
    scaler = CallAutoscaler(stable_window=60, scale_down_delay=0)
    feed(scaler, 0, 60, concurrency=7, rps=100)
    decision = scaler.decide(SPEC, current=4, ready=4)
    assert decision.replicas == 4 and decision.reason.startswith("7.0 in flight over 60s against 2 per replica")
    rps = dataclasses.replace(SPEC, scale_metric="rps", scale_target=30)
    assert scaler.decide(rps, current=4, ready=4).replicas == 4  # ceil(100 / 30)
    assert scaler.decide(dataclasses.replace(SPEC, max_replicas=3), 3, 3).reason.endswith("kept within 0..3")


def test_a_burst_panics_into_scaling_up_at_once_and_never_down_for_a_stable_window() -> None:
    scaler = CallAutoscaler(stable_window=60, scale_down_delay=0)
    last = feed(scaler, 0, 54, concurrency=2, rps=10)
    last = feed(scaler, 54, 6, concurrency=20, rps=100, before=last)
    decision = scaler.decide(SPEC, current=1, ready=1)
    assert decision.replicas == 10 and decision.reason.startswith("panic: 20.0 in flight over 6s")
    feed(scaler, last.at, 20, concurrency=2, rps=10, before=last)
    assert scaler.decide(SPEC, current=10, ready=10).replicas == 10  # still panicking: not down
    calm = feed(scaler, last.at + 20, 60, concurrency=2, rps=10, before=scaler.samples[-1])
    assert calm.at > scaler.panic_until and scaler.decide(SPEC, current=10, ready=10).replicas == 1


def test_a_dip_shorter_than_the_scale_down_delay_removes_nothing() -> None:
    scaler = CallAutoscaler(stable_window=10, scale_down_delay=30)
    last = feed(scaler, 0, 10, concurrency=8, rps=10)
    assert scaler.decide(SPEC, current=4, ready=4).replicas == 4
    feed(scaler, 10, 15, concurrency=2, rps=10, before=last)
    assert scaler.decide(SPEC, current=4, ready=4).replicas == 4
    undelayed = CallAutoscaler(stable_window=10, scale_down_delay=0)
    feed(undelayed, 0, 10, concurrency=8, rps=10)
    feed(undelayed, 10, 15, concurrency=2, rps=10, before=undelayed.samples[-1])
    assert undelayed.decide(SPEC, current=4, ready=4).replicas == 1


def test_an_idle_service_goes_to_zero_after_its_idle_time_and_a_held_call_wakes_it() -> None:
    scaler = CallAutoscaler(stable_window=10, scale_down_delay=0)
    last = feed(scaler, 0, 10, concurrency=1, rps=5)
    idle = feed(scaler, 10, 29, concurrency=0, rps=0, before=last)
    assert scaler.decide(SPEC, current=1, ready=1).replicas == 1  # 29 s idle: the last replica stays
    scaler.observe(Sample(idle.at + 1.5, idle.started, idle.busy_seconds, 0))
    decision = scaler.decide(SPEC, current=1, ready=1)
    assert decision == type(decision)(0, "idle for 30s: scaled to zero")
    scaler.observe(Sample(idle.at + 2, idle.started, idle.busy_seconds, 0))
    assert scaler.decide(SPEC, current=0, ready=0).reason == "no call for 30s"
    scaler.observe(Sample(idle.at + 3, idle.started + 5, idle.busy_seconds, 5))
    woken = scaler.decide(SPEC, current=0, ready=0)
    assert (woken.replicas, woken.reason) == (3, "5 held call(s) wake it from zero")
    assert scaler.decide(dataclasses.replace(SPEC, scale_target=100), current=0, ready=0).replicas == 1
    scaler.observe(Sample(idle.at + 3.2, idle.started + 5, idle.busy_seconds + 1, 5))
    assert scaler.decide(SPEC, current=1, ready=1).replicas == 3  # calls still held are demand now
    scaler.observe(Sample(idle.at + 3.4, idle.started + 5, idle.busy_seconds + 1, 0))
    assert scaler.decide(SPEC, current=3, ready=0).replicas == 3  # the wake is not undone while they start
    starting = CallAutoscaler(stable_window=10, scale_down_delay=0)
    feed(starting, 0, 40, concurrency=0, rps=0)
    assert starting.decide(SPEC, current=1, ready=0).replicas == 1  # a replica still starting is not idle
    starting.observe(Sample(41, 0, 0, 0))
    assert starting.decide(SPEC, current=1, ready=1).replicas == 1  # its idle time counts from when it is ready
    crashing = CallAutoscaler(stable_window=10, scale_down_delay=0)
    feed(crashing, 0, 40, concurrency=0, rps=0)
    assert crashing.decide(SPEC, current=1, ready=0, failing=True).replicas == 0  # a crash loop rests at zero
    always_one = dataclasses.replace(SPEC, min_replicas=1)
    feed(kept := CallAutoscaler(10, 0), 0, 100, concurrency=0, rps=0)
    assert kept.decide(always_one, current=1, ready=1).replicas == 1


def test_the_supervisor_sums_routers_and_counts_a_restarted_one_from_its_new_zero(tmp_path: Path) -> None:
    first, second = tmp_path / "t.load-0", tmp_path / "t.load-1"
    meter = CallMeter()
    meter.begin("s")
    meter.hold("s", 1)
    meter.publish(first)
    load = LevelLoad()
    load.read([first, second], time.time())
    assert (load.started, load.held) == ({"s": 1}, {"s": 1})
    meter.end("s")
    meter.hold("s", -1)
    for _ in range(3):
        meter.begin("s")
        meter.end("s")
    meter.publish(first)
    restarted = CallMeter()
    restarted.begin("s")
    restarted.publish(second)
    load.read([first, second], time.time())
    assert (load.started, load.held) == ({"s": 5}, {"s": 0})
    restarted_again = CallMeter()
    restarted_again.begin("s")
    restarted_again.publish(first)  # router 0 restarted: its 1 is new calls, not 3 going back
    load.read([first, second], time.time())
    assert load.started == {"s": 6} and load.busy_seconds["s"] > 0
    moment = time.time()
    load.read([first, second], moment + 10)  # both routers have one call in flight: 10 s of it each since
    assert load.busy_now("s") - load.busy_seconds["s"] >= 20


def test_a_dormant_service_keeps_its_share_of_calls_for_the_router_to_hold() -> None:
    table = RouterTable({"a": 50, "b": 50}, {"a": ["1"], "b": []}, dormant=["b"])
    balancer = Balancer(table)
    assert sorted(balancer.pick() for _ in range(4)) == [("a", "1"), ("a", "1"), ("b", None), ("b", None)]
    assert balancer.pick(service="b") == ("b", None)
    assert balancer.pick(exclude=["1"]) is None  # a retry never waits for a replica to start


@pytest.fixture
def routing(tmp_path: Path) -> Routing:
    RouterTable({"s": 100}, {"s": []}, dormant=["s"]).save(tmp_path / "table")
    routing = Routing(tmp_path / "table", 0)
    routing.refresh()
    return routing


def replace_table(routing: Routing, table: RouterTable) -> None:
    time.sleep(0.01)  # a new mtime
    table.save(routing.table_path)
    routing.refresh()


async def test_a_held_call_goes_on_once_a_replica_is_ready(routing: Routing) -> None:
    held = asyncio.ensure_future(routing.acquire(None, (), seconds=5))
    await asyncio.sleep(0.1)
    assert not held.done() and routing.meter.services["s"].held == 1 and routing.load_path.exists()
    replace_table(routing, RouterTable({"s": 100}, {"s": ["127.0.0.1:1"]}))
    assert await asyncio.wait_for(held, 1) == ("s", "127.0.0.1:1")
    assert (routing.meter.services["s"].held, routing.meter.services["s"].in_flight) == (0, 1)
    routing.release("s")
    assert routing.meter.services["s"].in_flight == 0


async def test_the_first_held_call_nudges_the_supervisor_at_once_and_a_refused_one_never(routing: Routing) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as supervisor:
        supervisor.bind(("127.0.0.1", 0))
        supervisor.settimeout(2)
        port = supervisor.getsockname()[1]
        replace_table(routing, RouterTable({"s": 100}, {"s": []}, dormant=["s"], wake_port=port))
        held = [asyncio.ensure_future(routing.acquire(None, (), seconds=5)) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert supervisor.recv(16) == b"wake"  # not left to the supervisor's next tick
        for call in held:
            call.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        replace_table(routing, RouterTable({"s": 100}, {"s": []}, dormant=["s"], failing={"s": "boom"}, wake_port=port))
        with pytest.raises(NoReplica, match="cannot start: boom"):
            await routing.acquire(None, (), seconds=5)
        supervisor.settimeout(0.2)
        with pytest.raises(TimeoutError):
            supervisor.recv(16)  # nothing more: the other held calls, and the refused one, added no demand


def test_a_table_with_a_field_this_router_does_not_know_is_read(tmp_path: Path) -> None:
    (tmp_path / "table").write_text(json.dumps({"weights": {"s": 100}, "backends": {"s": ["a:1"]}, "newer": 1}))
    assert RouterTable.load(tmp_path / "table").backends == {"s": ["a:1"]}  # a newer supervisor's table


async def test_held_calls_are_refused_with_the_reason_when_the_replica_cannot_start(routing: Routing) -> None:
    held = asyncio.ensure_future(routing.acquire(None, (), seconds=5))
    await asyncio.sleep(0.05)
    replace_table(routing, RouterTable({"s": 100}, {"s": []}, dormant=["s"], failing={"s": "model is corrupt"}))
    with pytest.raises(NoReplica, match="'s' was scaled to zero and cannot start: model is corrupt"):
        await asyncio.wait_for(held, 1)
    assert routing.meter.services["s"].in_flight == 0


async def test_a_held_call_gives_up_at_its_deadline_and_the_queue_is_bounded(
        routing: Routing, monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    with pytest.raises(NoReplica, match=r"no replica of it was ready within 0\.3s"):
        await routing.acquire(None, (), seconds=0.3)
    assert 0.3 <= time.monotonic() - started < 1.0
    monkeypatch.setattr(routing_module, "HOLD_LIMIT", 1)
    first = asyncio.ensure_future(routing.acquire(None, (), seconds=5))
    await asyncio.sleep(0.05)
    with pytest.raises(NoReplica, match="1 calls already wait for it"):
        await routing.acquire(None, (), seconds=5)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert routing.meter.services["s"].held == 0


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    with local_backend(tmp_path_factory.mktemp("calls") / "home") as backend:
        yield backend


@pytest.fixture(scope="module")
def make_spec(backend: LocalBackend, echo_models: dict[str, Path]) -> Callable[..., ServiceSpec]:
    store = ModelStore(str(backend.paths.home / "models"))

    def make(app: str, model: str = "v1", **changes: object) -> ServiceSpec:
        stored = store.put_file(echo_models[model])
        spec = ServiceSpec(app=app, name="a", level="development", predictor=ECHO,
                           model=ModelRef(1, stored.uri, stored.sha256), model_store=store.root, autoscale=True,
                           min_replicas=0, max_replicas=2, scale_metric="concurrency", scale_target=1.0,
                           scale_to_zero_after=1.0)
        return dataclasses.replace(spec, **changes)

    return make


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout}s"
        time.sleep(0.05)


def listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def test_a_service_goes_to_zero_wakes_on_its_first_call_and_follows_load_losing_none(
        backend: LocalBackend, make_spec: Callable[..., ServiceSpec]) -> None:
    backend.apply(make_spec("sleepy"))
    wait_for(lambda: backend.status("sleepy", "a").desired == 0 and not backend.pods("sleepy"), 20, "to zero")
    assert backend.status("sleepy", "a").scale_reason.startswith("no call for")
    address = backend.address("sleepy", "development")
    started = time.monotonic()
    with Client(address, retries=0, timeout=30) as client:
        assert client.predict("first").label == "one:first"
    print(f"first call after zero: {time.monotonic() - started:.2f}s")
    assert len(backend.pods("sleepy")) == 1
    with SteadyLoad(address, retries=0, callers=6, pause_seconds=0.0) as load:
        wait_for(lambda: backend.status("sleepy", "a").desired == 2, 15, "scaled up on calls in flight")
        wait_for(lambda: sum(p.ready for p in backend.pods("sleepy")) == 2, 20, "second replica ready")
    assert load.calls and load.failures(0) == []
    wait_for(lambda: backend.status("sleepy", "a").desired == 0 and not backend.pods("sleepy"), 20, "back to zero")
    [actual] = backend.actual_state().services
    assert (actual.scale_metric, actual.replicas, actual.min_replicas) == ("concurrency", 0, 0)
    answer = urllib.request.urlopen(urllib.request.Request(
        f"{backend.http_address('sleepy', 'development')}/kanri/v1/predict", data=b'{"input": "over http"}',
        headers={"content-type": "application/json"}), timeout=30)
    assert json.loads(answer.read())["output"] == "one:over http"  # held on the HTTP side too


def test_a_call_to_a_sleeping_service_that_cannot_start_is_refused_with_why(
        backend: LocalBackend, make_spec: Callable[..., ServiceSpec]) -> None:
    backend.apply(make_spec("broken", model="corrupt", replicas=0))
    address = backend.address("broken", "development")
    wait_for(lambda: listening(address), 20, "its router listening")
    assert backend.status("broken", "a").desired == 0 and not backend.pods("broken")
    started = time.monotonic()
    with Client(address, retries=0, timeout=30) as client, pytest.raises(ServingError) as refused:
        client.predict("hello")
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    assert "'a' was scaled to zero and cannot start" in str(refused.value)
    assert time.monotonic() - started < 15
