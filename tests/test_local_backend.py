"""The embedded cluster beyond the contract: healing, stuck rollouts, zero-downtime switches, adoption,
autoscaling, mirroring, the client's route lookup; and the pure arithmetic behind them."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import psutil
import pytest

from kanri.console.cluster.base import ClusterError, ModelRef, RouteSpec, ServiceSpec
from kanri.console.cluster.local import LocalBackend, supervisor
from kanri.console.cluster.local.autoscaler import desired_replicas
from kanri.console.cluster.local.balancer import Balancer
from kanri.console.cluster.local.control import running_supervisor, start_supervisor, stop_supervisor
from kanri.console.cluster.local.files import locked
from kanri.console.cluster.local.grpc_proxy import GrpcProxy
from kanri.console.cluster.local.http_proxy import HttpProxy
from kanri.console.cluster.local.paths import LocalPaths
from kanri.console.cluster.local.processes import ProcessHandle, free_port
from kanri.console.cluster.local.rolling import plan
from kanri.console.cluster.local.router import MAX_BODY
from kanri.console.cluster.local.router_table import RouterTable
from kanri.console.cluster.local.routing import SERVICE_HEADER, Routing
from kanri.console.cluster.local.state import Observed, PodRecord, RouterProcess, RouterRecord
from kanri.console.demo.teardown import tear_down
from kanri.serving._pb import serving_pb2 as pb
from kanri.serving._pb import serving_pb2_grpc as pb_grpc
from kanri.serving.client import Client, ServingError, encode_value
from kanri.serving.models import ModelStore
from kanri.serving.rest.messages import Request, Response
from kanri.serving.rest.server import HttpServer
from tests.support.backends import ECHO, FAST, delete_every_service, local_backend
from tests.support.http_calls import Answer

LEVEL = "development"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    with local_backend(tmp_path_factory.mktemp("local") / "home") as backend:
        yield backend


@pytest.fixture(autouse=True)
def clean_slate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that deployed leave nothing running for the next one."""
    yield
    if "backend" in request.fixturenames:
        delete_every_service(request.getfixturevalue("backend"))


@pytest.fixture(scope="module")
def models(backend: LocalBackend, echo_models: dict[str, Path]) -> dict[str, ModelRef]:
    store = ModelStore(str(backend.paths.home / "models"))
    refs = {}
    for version, name in enumerate(("v1", "v2", "corrupt"), start=1):
        stored = store.put_file(echo_models[name])
        refs[name] = ModelRef(version, stored.uri, stored.sha256)
    return refs


@pytest.fixture(scope="module")
def make_spec(backend: LocalBackend, models: dict[str, ModelRef]) -> Callable[..., ServiceSpec]:
    def make(app: str, name: str = "a", model: str = "v1", **changes: object) -> ServiceSpec:
        spec = ServiceSpec(app=app, name=name, level=LEVEL, predictor=ECHO, model=models[model],
                           model_store=str(backend.paths.home / "models"))
        return dataclasses.replace(spec, **changes)

    return make


def deploy(backend: LocalBackend, spec: ServiceSpec, timeout: float = 30.0) -> None:
    backend.apply(spec)
    events = list(backend.rollout(spec.app, spec.name, timeout=timeout))
    assert events[-1].converged, events


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout}s"
        time.sleep(0.05)


def predict(address: str, text: str = "hi") -> str:
    with Client(address, retries=0, timeout=5) as client:
        return client.predict(text).label


class Load:
    """Calls Predict through a router from a thread, concurrently and without retries, counting every outcome."""

    def __init__(self, address: str, concurrency: int = 4) -> None:
        self.address = address
        self.concurrency = concurrency
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    @property
    def calls(self) -> int:
        return sum(self.answers.values()) + len(self.failures)

    async def _run(self) -> None:
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = pb_grpc.PredictionServiceStub(channel)
            request = pb.PredictRequest(input=encode_value("load"))

            async def worker() -> None:
                while not self._stop.is_set():
                    try:
                        answer = await stub.Predict(request, timeout=10)
                        self.answers[answer.model_version] += 1
                    except grpc.aio.AioRpcError as exc:
                        self.failures.append(f"{exc.code().name}: {exc.details()}")

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))


class HttpLoad(Load):
    """Load over HTTP: Predict in JSON through a router's HTTP port (a base URL), each worker a thread on one
    keep-alive connection of the standard library's client."""

    async def _run(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(self._worker) for _ in range(self.concurrency)))

    def _worker(self) -> None:
        where = urlsplit(self.address)
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
        while not self._stop.is_set():
            try:
                connection.request("POST", "/kanri/v1/predict", body=b'{"input": "load"}')
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                connection.close()
                continue
            if response.status == 200:
                self.answers[json.loads(body)["model_version"]] += 1
            else:
                self.failures.append(f"{response.status}: {body!r}")
        connection.close()


def test_a_killed_replica_is_healed_within_3s_and_counted(backend: LocalBackend,
                                                          make_spec: Callable[..., ServiceSpec]) -> None:
    deploy(backend, make_spec("heal", replicas=2))
    victim = backend.pods("heal")[0]
    os.kill(victim.pid, signal.SIGKILL)
    killed = time.monotonic()

    def healed() -> bool:
        pod = {p.name: p for p in backend.pods("heal")}[victim.name]
        return pod.ready and pod.restarts == 1 and pod.pid != victim.pid

    wait_for(healed, timeout=3.0, what="healed")
    assert time.monotonic() - killed < 3.0
    assert predict(backend.address("heal", LEVEL)) == "one:hi"


def test_a_model_that_fails_to_load_sticks_the_rollout_and_old_replicas_keep_serving(
        backend: LocalBackend, make_spec: Callable[..., ServiceSpec]) -> None:
    deploy(backend, make_spec("stuck", replicas=2))
    address = backend.address("stuck", LEVEL)
    backend.apply(make_spec("stuck", model="corrupt", replicas=2))
    final = list(backend.rollout("stuck", "a", timeout=20))[-1]
    assert not final.converged
    assert "model file is corrupt" in final.stuck and "is not ready" in final.stuck
    assert (final.updated, final.available) == (1, 2)
    pods = backend.pods("stuck")
    assert sorted((p.model_version, p.ready) for p in pods) == [(1, True), (1, True), (3, False)]
    assert all(predict(address, f"call {i}") == f"one:call {i}" for i in range(20))

    deploy(backend, make_spec("stuck", model="v2", replicas=2))  # a good model gets the rollout going again
    wait_for(lambda: sorted(p.model_version for p in backend.pods("stuck")) == [2, 2], what="only v2 left")


def test_a_rolling_switch_under_load_fails_no_call(backend: LocalBackend,
                                                   make_spec: Callable[..., ServiceSpec]) -> None:
    deploy(backend, make_spec("steady", replicas=3))
    with Load(backend.address("steady", LEVEL)) as load:
        wait_for(lambda: load.calls > 50, what="load running")
        deploy(backend, make_spec("steady", model="v2", replicas=3))
        answered_before = load.answers["2"]
        wait_for(lambda: load.answers["2"] > answered_before + 50, what="v2 answering")
    assert load.failures == []
    assert load.answers["1"] > 0 and load.answers["2"] > 0


def test_a_restarted_supervisor_adopts_running_replicas(backend: LocalBackend,
                                                        make_spec: Callable[..., ServiceSpec]) -> None:
    deploy(backend, make_spec("adopt", replicas=2))
    before = {p.name: p.pid for p in backend.pods("adopt")}
    routers = router_pids(backend)
    assert len(routers) == FAST.routers_per_level == 2  # sharing the level's port
    old_supervisor = running_supervisor(backend.paths)
    assert old_supervisor is not None
    with Load(backend.address("adopt", LEVEL), concurrency=2) as load:
        assert stop_supervisor(backend.paths, keep_serving=True)
        wait_for(lambda: load.calls > 20, what="calls while no supervisor runs")
        start_supervisor(backend.paths, FAST)
        wait_for(lambda: backend.status("adopt", "a").converged, what="converged after the restart")
    assert running_supervisor(backend.paths).pid != old_supervisor.pid
    after = backend.pods("adopt")
    assert {p.name: p.pid for p in after} == before
    assert all(p.restarts == 0 and p.ready for p in after), after
    assert router_pids(backend) == routers
    assert load.failures == []


def test_a_process_is_still_known_after_the_wall_clock_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An NTP step moves the boot time Linux reports (its btime is derived from the wall clock), and with it psutil's
    create_time. A replica, router or supervisor recorded before the step must still be found, and still count as
    alive, after it: else the next `kanri` command takes the running supervisor for dead and cannot start another,
    and the supervisor takes its own replicas for dead."""
    handle = ProcessHandle.spawn([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "sleeper.log",
                                 dict(os.environ))
    try:
        before = psutil.Process(handle.pid).create_time()
        stepped = psutil.boot_time() + 16.0
        monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: stepped)  # what /proc/stat says after the step
        assert psutil.Process(handle.pid).create_time() == pytest.approx(before + 16.0)
        adopted = ProcessHandle.adopt(handle.pid, handle.create_time, "time.sleep(60)")
        assert adopted is not None and adopted.alive() and handle.alive()
    finally:
        handle.signal(signal.SIGKILL)
        assert handle.popen is not None
        handle.popen.wait(10)


def test_demo_down_removes_what_runs_even_when_no_supervisor_can_start(tmp_path: Path) -> None:
    """`kanri demo --down` removes the demo however it was left: here a router is recorded and runs, and the
    supervisor lock is held by a process kanri does not recognise, so no supervisor can start to drain it."""
    home = tmp_path / "kanri-demo"
    paths = LocalPaths(home)
    paths.root.mkdir(parents=True)
    router = ProcessHandle.spawn([sys.executable, "-c", "import time, sys; time.sleep(60)", str(home)],
                                 tmp_path / "router.log", dict(os.environ))
    process = {"pid": router.pid, "create_time": router.create_time, "restarts": 0}
    paths.observed.write_text(json.dumps({"routers": {"demo/development": {
        "app": "demo", "level": "development", "port": free_port(), "processes": [process]}}}))
    assert router.popen is not None
    try:
        with locked(paths.supervisor_lock):
            removed = tear_down(home)
        assert router.popen.wait(10) == -signal.SIGKILL, "tear_down killed it"
    finally:
        router.signal(signal.SIGKILL)  # only when the test failed before it ended
    assert removed[0].startswith("no supervisor could drain them (the local supervisor did not start"), removed
    assert removed[1].startswith("killed ") and removed[2] == f"deleted {home} (registry, models, logs)", removed
    assert not home.exists()


def router_pids(backend: LocalBackend, app: str | None = None) -> set[int | None]:
    return {p.pid for key, router in Observed.load(backend.paths.observed).routers.items()
            if app is None or key == f"{app}/{LEVEL}" for p in router.processes}


def test_a_supervisor_told_fewer_routers_per_level_stops_the_surplus(
        backend: LocalBackend, make_spec: Callable[..., ServiceSpec]) -> None:
    deploy(backend, make_spec("fewer", replicas=1))
    routers = router_pids(backend, "fewer")
    assert len(routers) == 2
    assert stop_supervisor(backend.paths, keep_serving=True)
    try:
        start_supervisor(backend.paths, dataclasses.replace(FAST, routers_per_level=1))
        wait_for(lambda: len(router_pids(backend, "fewer")) == 1, what="one router recorded")
        surplus = routers - router_pids(backend, "fewer")
        assert len(surplus) == 1
        wait_for(lambda: not any(psutil.pid_exists(pid or 0) for pid in surplus), what="the surplus router ends")
        with Client(backend.address("fewer", LEVEL), retries=0) as client:
            assert client.predict("x").label.endswith(":x")
    finally:
        stop_supervisor(backend.paths, keep_serving=True)
        start_supervisor(backend.paths, FAST)


async def test_a_stop_asked_for_before_the_supervisors_loop_listens_is_kept(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoever reads the pid file may signal at once (kanri demo --down does): that stop must not be lost."""
    monkeypatch.setattr(supervisor, "EARLY_STOPS", [False])
    await asyncio.wait_for(supervisor.supervise(LocalPaths(tmp_path), FAST), 10)


def test_a_level_recorded_with_one_router_is_adopted_as_the_first_of_its_routers() -> None:
    """observed.json as a supervisor of one router per level wrote it: a new supervisor adopts that router."""
    record = RouterRecord.from_dict({"app": "echo", "level": "production", "port": 5000, "http_port": 5001,
                                     "pid": 42, "create_time": 1.5, "restarts": 2})
    assert record.processes == [RouterProcess(pid=42, create_time=1.5, restarts=2)]


def test_autoscaling_follows_cpu_with_a_cool_down(backend: LocalBackend,
                                                  make_spec: Callable[..., ServiceSpec]) -> None:
    deploy(backend, make_spec("busy", autoscale=True, replicas=1, min_replicas=1, max_replicas=2, cpu_threshold=10))
    replicas: list[tuple[float, int]] = []

    def replica_target_is(count: int) -> bool:
        [service] = [s for s in backend.actual_state().services if s.app == "busy"]
        if not replicas or replicas[-1][1] != service.replicas:
            replicas.append((time.monotonic(), service.replicas))
        return service.replicas == count

    with Load(backend.address("busy", LEVEL), concurrency=8):
        wait_for(lambda: replica_target_is(2), timeout=20, what="scaled up")
        wait_for(lambda: len(backend.pods("busy")) == 2 and backend.status("busy", "a").converged,
                 what="second replica ready")
    wait_for(lambda: replica_target_is(1), timeout=20, what="scaled down")
    (_, start), (up_at, up), (down_at, down) = replicas
    assert (start, up, down) == (1, 2, 1)
    # Seen by polling, the scale-up may be noticed up to a poll late, which shortens the gap measured.
    assert down_at - up_at >= FAST.autoscale_cooldown_seconds - 0.2
    wait_for(lambda: len(backend.pods("busy")) == 1, what="back to one replica")


def scraped_predictions(metrics_address: str) -> float:
    text = urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("kanri_requests_total{") and 'method="Predict"' in line)


def test_a_mirrored_share_reaches_the_shadow_whose_answers_are_dropped(
        backend: LocalBackend, make_spec: Callable[..., ServiceSpec]) -> None:
    deploy(backend, make_spec("shadow", name="live"))
    deploy(backend, make_spec("shadow", name="shadow", model="v2"))
    backend.set_route(RouteSpec("shadow", LEVEL, {"live": 100, "shadow": 0}, mirror="shadow", mirror_percent=50))
    wait_for(lambda: backend.actual_state().routes, what="route applied")
    address = backend.address("shadow", LEVEL)
    assert {predict(address, f"q{i}") for i in range(200)} == {f"one:q{i}" for i in range(200)}
    [shadow] = backend.pods("shadow", "shadow")
    counts = [-1.0]
    wait_for(lambda: counts.append(scraped_predictions(shadow.metrics_address)) or counts[-1] == counts[-2],
             what="mirrored calls settled")
    assert 60 <= counts[-1] <= 140, f"{counts[-1]} of 200 calls mirrored at 50%"


def test_weight_changes_under_http_load_drop_no_request(backend: LocalBackend,
                                                        make_spec: Callable[..., ServiceSpec]) -> None:
    deploy(backend, make_spec("weighed", name="a"))
    deploy(backend, make_spec("weighed", name="b", model="v2"))
    assert backend.http_address("weighed", LEVEL).startswith("http://127.0.0.1:")
    version = {"a": "1", "b": "2"}
    with HttpLoad(backend.http_address("weighed", LEVEL)) as load:
        for weights in ({"a": 100, "b": 0}, {"a": 0, "b": 100}, {"a": 50, "b": 50}):
            backend.set_route(RouteSpec("weighed", LEVEL, weights))
            before = Counter(load.answers)
            wait_for(lambda n=load.calls: load.calls > n + 50, what=f"calls on {weights}")
            for service in [s for s, weight in weights.items() if weight == 0]:  # but calls in flight at the change
                assert load.answers[version[service]] - before[version[service]] <= load.concurrency, weights
    assert load.failures == []
    assert load.answers["1"] > 0 and load.answers["2"] > 0


def test_the_client_finds_a_route_by_app_and_level_and_calls_pass_through(
        backend: LocalBackend, make_spec: Callable[..., ServiceSpec], monkeypatch: pytest.MonkeyPatch) -> None:
    deploy(backend, make_spec("found"))
    monkeypatch.setenv("KANRI_HOME", str(backend.paths.home))
    wait_for(lambda: backend.paths.routes.exists() and "found/development" in backend.paths.routes.read_text())
    with Client(app="found", service_level=LEVEL, retries=0) as client:
        assert client._s.target == backend.address("found", LEVEL)
        assert client.predict("x").label == "one:x"
        assert [p.label for p in client.predict_stream(["a", "b", "c"])] == ["one:a", "one:b", "one:c"]
        with pytest.raises(ServingError) as error:
            client.predict("bad")
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT and "not a word" in error.value.message
    with pytest.raises(ValueError, match="no route at production"):
        Client(app="found", service_level="production")


def test_pods_report_processes_and_addresses(backend: LocalBackend, make_spec: Callable[..., ServiceSpec]) -> None:
    deploy(backend, make_spec("report"))
    [pod] = backend.pods("report")
    assert pod.pid and pod.address.startswith("127.0.0.1:") and pod.metrics_address.startswith("127.0.0.1:")
    assert pod.host and pod.age_seconds > 0 and pod.model_version == 1
    assert predict(pod.address) == "one:hi"
    assert scraped_predictions(pod.metrics_address) >= 1
    log = backend.paths.pod_log("report", "a", pod.name)
    assert f'"pod": "{pod.name}"' in log.read_text()


def test_kanri_local_up_status_down(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kanri.console.commands.local import local

    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    with local_backend(tmp_path):
        assert "supervisor running (pid" in runner.invoke(local, ["up", *home]).output
        assert runner.invoke(local, ["status", *home]).output.startswith("supervisor: running (pid")
        assert json.loads(runner.invoke(local, ["status", "--json", *home]).output)["supervisor_pid"]
        assert runner.invoke(local, ["down", *home]).output == "local cluster stopped\n"
        assert "not running" in runner.invoke(local, ["status", *home]).output
        assert runner.invoke(local, ["down", *home]).output == "the local cluster was not running\n"


@pytest.mark.parametrize(("changes", "message"), [
    ({"app": "Bad_Name"}, "DNS label"),
    ({"max_surge": 0, "max_unavailable": 0}, "nothing could move"),
    ({"min_replicas": 3, "max_replicas": 2}, "min replicas"),
])
def test_invalid_specs_are_refused(tmp_path: Path, changes: dict, message: str) -> None:
    spec = ServiceSpec(app="ok", name="ok", level=LEVEL, predictor=ECHO, model=ModelRef(1, "x", "y"),
                       model_store="z")
    with pytest.raises(ClusterError, match=message):
        LocalBackend(tmp_path).apply(dataclasses.replace(spec, **changes))
    assert running_supervisor(LocalBackend(tmp_path).paths) is None


# -- the router in process, against bare gRPC servers --

class RecordingBackend:
    """A bare grpc.aio server that answers raw bytes and records what reached it; `stopping`, it cancels
    every call as a stopping gRPC server does those it had not handed to a handler yet."""

    def __init__(self, stopping: bool = False) -> None:
        self.stopping = stopping
        self.metadata: list[dict] = []
        self.deadlines: list[float | None] = []

    async def unary(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.metadata.append(dict(context.invocation_metadata()))
        self.deadlines.append(context.time_remaining())
        if self.stopping:
            await context.abort(grpc.StatusCode.CANCELLED, "server shutdown")
        if request == b"invalid":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "nope", (("x-why", "test"),))
        await context.send_initial_metadata((("x-from", "backend"),))
        context.set_trailing_metadata((("x-trailer", "1"),))
        return b"answer:" + request

    async def stream(self, requests: object, context: grpc.aio.ServicerContext) -> object:
        async for request in requests:
            yield b"streamed:" + request

    async def start(self) -> tuple[grpc.aio.Server, str]:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler("kanri.serving.v1.PredictionService", {
                "Predict": grpc.unary_unary_rpc_method_handler(self.unary),
                "PredictStream": grpc.stream_stream_rpc_method_handler(self.stream)}),
            grpc.method_handlers_generic_handler("not.Known", {
                "Call": grpc.unary_unary_rpc_method_handler(self.unary)}),
        ))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, f"127.0.0.1:{port}"


async def test_the_router_forwards_metadata_deadlines_errors_streams_and_unknown_methods(tmp_path: Path) -> None:
    fake = RecordingBackend()
    backend_server, live = await fake.start()
    gone = f"127.0.0.1:{free_port()}"  # nothing listens: calls sent there are retried on the live replica
    RouterTable({"svc": 100}, {"svc": [gone, live]}).save(tmp_path / "table.json")
    router = Routing(tmp_path / "table.json", 0)
    router.refresh()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((GrpcProxy(router),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stopping = RecordingBackend(stopping=True)
    stopping_server, stopping_address = await stopping.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            predict = channel.unary_unary("/kanri.serving.v1.PredictionService/Predict")
            RouterTable({"svc": 100}, {"svc": [stopping_address, live]}).save(tmp_path / "table.json")
            router.refresh()
            for i in range(4):  # what the stopping replica cancels is tried again on the live one
                assert await predict(f"c{i}".encode(), timeout=5) == f"answer:c{i}".encode()
            assert stopping.metadata  # it was tried

            RouterTable({"svc": 100}, {"svc": [gone, live]}).save(tmp_path / "table.json")
            router.refresh()
            for i in range(4):
                call = predict(f"q{i}".encode(), metadata=(("x-custom", "v"), ("trace-bin", b"\x01")), timeout=5)
                assert await call == f"answer:q{i}".encode()
            assert dict(await call.initial_metadata()) == {"x-from": "backend", "x-kanri-service": "svc"}
            assert dict(await call.trailing_metadata())["x-trailer"] == "1"
            assert fake.metadata[-1]["x-custom"] == "v" and fake.metadata[-1]["trace-bin"] == b"\x01"
            assert all(d is not None and 0 < d <= 5.1 for d in fake.deadlines)  # the caller's deadline went along
            pinned = predict(b"p", metadata=((SERVICE_HEADER, "svc"),), timeout=5)
            assert await pinned == b"answer:p" and dict(await pinned.initial_metadata())[SERVICE_HEADER] == "svc"
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await predict(b"p", metadata=((SERVICE_HEADER, "nope"),), timeout=5)
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE and "'nope'" in error.value.details()

            with pytest.raises(grpc.aio.AioRpcError) as error:
                await predict(b"invalid", timeout=5)
            assert (error.value.code(), error.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "nope")
            assert dict(error.value.trailing_metadata())["x-why"] == "test"

            RouterTable({"svc": 100}, {"svc": [live]}).save(tmp_path / "table.json")  # streams are not retried
            router.refresh()
            stream = channel.stream_stream("/kanri.serving.v1.PredictionService/PredictStream")
            assert [m async for m in stream(iter([b"a", b"b", b"c"]), timeout=5)] == [
                b"streamed:a", b"streamed:b", b"streamed:c"]
            assert await channel.unary_unary("/not.Known/Call")(b"x", timeout=5) == b"answer:x"
    finally:
        await server.stop(None)
        await backend_server.stop(None)
        await stopping_server.stop(None)


Listen = Callable[[HttpServer], Awaitable[int]]


@pytest.fixture
async def listen() -> AsyncIterator[Listen]:
    """Starts an HttpServer in process on a free loopback port (returned), and stops it after the test."""
    servers: list[HttpServer] = []

    async def start(server: HttpServer) -> int:
        servers.append(server)
        return await server.start("127.0.0.1", 0, reuse_port=False)

    yield start
    await asyncio.gather(*(server.stop(0) for server in servers))


class HttpReplica:
    """A bare serving.rest HttpServer in a replica's place: answers "NAME:BODY" and records what reached it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[Request] = []
        self.server = HttpServer(self.answer, 1 << 20)

    async def answer(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(200, f"{self.name}:".encode() + request.body, "text/plain", (("x-from", self.name),))


async def http_router(listen: Listen, tmp_path: Path, table: RouterTable) -> int:
    """The router's HTTP side in process, on the table; returns its port."""
    table.save(tmp_path / "table.json")
    routing = Routing(tmp_path / "table.json", 0)
    routing.refresh()
    return await listen(HttpServer(HttpProxy(routing), MAX_BODY))


def http_calls(port: int, count: int, path: str = "/kanri/v1/predict", body: bytes = b"q",
               headers: dict[str, str] | None = None, concurrency: int = 8) -> list[Answer]:
    """count requests over `concurrency` keep-alive connections of the standard library's client, from threads
    (call it with asyncio.to_thread when the router runs on the test's loop)."""
    def calls(n: int) -> list[Answer]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        answers = []
        for _ in range(n):
            connection.request("POST", path, body=body, headers=headers or {})
            response = connection.getresponse()
            answers.append(Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()))
        connection.close()
        return answers

    share, rest = divmod(count, concurrency)
    with ThreadPoolExecutor(concurrency) as pool:
        return [a for answers in pool.map(calls, [share + (i < rest) for i in range(concurrency)]) for a in answers]


async def settled(count: Callable[[], int]) -> int:
    """count() once it stopped changing (mirrored calls still landing)."""
    last = -1
    while (now := count()) != last:
        last = now
        await asyncio.sleep(0.2)
    return now


async def test_the_routers_http_side_splits_by_weight_pins_by_header_and_mirrors(tmp_path: Path,
                                                                                listen: Listen) -> None:
    replicas = {name: HttpReplica(name) for name in ("a", "b", "shadow")}
    http_of = {f"grpc-{name}": f"127.0.0.1:{await listen(replica.server)}" for name, replica in replicas.items()}
    port = await http_router(listen, tmp_path, RouterTable({"a": 80, "b": 20, "shadow": 0},
                                                   {name: [f"grpc-{name}"] for name in replicas}, http_of,
                                                   mirror="shadow", mirror_percent=50))
    answers = await asyncio.to_thread(http_calls, port, 2000, headers={"x-custom": "v"})
    assert {a.status for a in answers} == {200}
    served = Counter(a.headers[SERVICE_HEADER] for a in answers)
    assert abs(served["a"] / 20 - 80) <= 5 and abs(served["b"] / 20 - 20) <= 5, served
    assert all(a.body == f"{a.headers['x-from']}:q".encode() for a in answers)
    assert 900 <= await settled(lambda: len(replicas["shadow"].requests)) <= 1100  # 50 % of 2000, give or take
    forwarded = replicas["a"].requests[-1]
    assert (forwarded.path, forwarded.headers["x-custom"], forwarded.body) == ("/kanri/v1/predict", "v", b"q")
    assert len(replicas["a"].server.connections) <= 8  # pooled: one connection per concurrent call at most

    mirrored = len(replicas["shadow"].requests)
    pinned = await asyncio.to_thread(http_calls, port, 20, headers={SERVICE_HEADER: "shadow"})
    assert {(a.status, a.headers[SERVICE_HEADER]) for a in pinned} == {(200, "shadow")}
    assert len(replicas["shadow"].requests) == mirrored + 20  # a pinned call is not mirrored
    [unknown] = await asyncio.to_thread(http_calls, port, 1, headers={SERVICE_HEADER: "nope"}, concurrency=1)
    assert unknown.status == 503 and "'nope'" in unknown.error and "a, b, shadow" in unknown.error

    gzipped = await asyncio.to_thread(http_calls, port, 1, body=gzip.compress(b"zipped"),
                                      headers={"content-encoding": "gzip"}, concurrency=1)
    assert gzipped[0].body.endswith(b":zipped")  # inflated once, by the router


async def test_the_routers_http_side_retries_predictions_refused_and_says_why_it_cannot_answer(
        tmp_path: Path, listen: Listen) -> None:
    live = f"127.0.0.1:{await listen(HttpReplica('live').server)}"
    gone = f"127.0.0.1:{free_port()}"  # nothing listens there
    port = await http_router(listen, tmp_path, RouterTable({"svc": 100}, {"svc": ["grpc-gone", "grpc-live"]},
                                                           {"grpc-gone": gone, "grpc-live": live}))
    for path in ("/kanri/v1/predict", "/v2/models/digits/infer", "/v2/models/digits/versions/1/infer"):
        answers = await asyncio.to_thread(http_calls, port, 4, path, concurrency=1)
        assert [(a.status, a.body) for a in answers] == [(200, b"live:q")] * 4, path
    unsafe = await asyncio.to_thread(http_calls, port, 4, "/kanri/v1/other", concurrency=1)
    assert sorted(a.status for a in unsafe) == [200, 200, 502, 502]  # not retried: it may not be safe to repeat
    assert f"replica {gone} refused the connection" in next(a.error for a in unsafe if a.status == 502)

    async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        writer.close()

    breaking = await asyncio.start_server(cut_short, "127.0.0.1", 0)
    broken = f"127.0.0.1:{breaking.sockets[0].getsockname()[1]}"
    port = await http_router(listen, tmp_path, RouterTable({"svc": 100}, {"svc": ["grpc-broken"]},
                                                           {"grpc-broken": broken}))
    [answer] = await asyncio.to_thread(http_calls, port, 1, concurrency=1)
    assert answer.status == 502 and "in the middle of its answer" in answer.error

    breaking.close()

    port = await http_router(listen, tmp_path, RouterTable({"a": 90, "b": 10}, {"a": [], "b": []}))
    [answer] = await asyncio.to_thread(http_calls, port, 1, concurrency=1)
    assert (answer.status, answer.error) == (503, "no ready replica behind this route (a 90%: 0 ready, b 10%: 0 ready)")


# -- the arithmetic, without processes --

def pod(name: str, template: str, ready: bool = True, since: float = 0.0) -> PodRecord:
    return PodRecord(name=name, app="x", service="x", level=LEVEL, template=template, model_version=1,
                     created_at=since, ready=ready, ready_since=since if ready else None)


def test_rolling_plan_surges_first_and_removes_old_only_when_new_are_available() -> None:
    old = [pod(f"old{i}", "t1", since=i) for i in range(3)]
    assert plan(old, "t2", 3, max_surge=1, max_unavailable=0, min_ready_seconds=0, now=10).create == 1
    starting = [*old, pod("new0", "t2", ready=False, since=10)]
    step = plan(starting, "t2", 3, max_surge=1, max_unavailable=0, min_ready_seconds=0, now=10)
    assert (step.create, step.remove) == (0, [])
    ready_not_long_enough = [*old, pod("new0", "t2", since=10)]
    step = plan(ready_not_long_enough, "t2", 3, max_surge=1, max_unavailable=0, min_ready_seconds=5, now=12)
    assert step.remove == []
    step = plan(ready_not_long_enough, "t2", 3, max_surge=1, max_unavailable=0, min_ready_seconds=5, now=16)
    assert [p.name for p in step.remove] == ["old2"]


def test_rolling_plan_with_max_unavailable_removes_before_replacing() -> None:
    old = [pod(f"old{i}", "t1", since=i) for i in range(4)]
    step = plan(old, "t2", 4, max_surge=0, max_unavailable=2, min_ready_seconds=0, now=10)
    assert step.create == 0 and len(step.remove) == 2
    broken = [pod("old0", "t1", ready=False), *old[1:]]
    step = plan(broken, "t2", 4, max_surge=0, max_unavailable=1, min_ready_seconds=0, now=10)
    assert [p.name for p in step.remove] == ["old0"]  # the unavailable old pod goes first


def test_rolling_plan_scales_without_a_template_change() -> None:
    pods = [pod(f"p{i}", "t", since=i) for i in range(3)]
    assert plan(pods, "t", 5, 1, 0, 0, now=10).create == 2
    assert [p.name for p in plan(pods, "t", 1, 1, 0, 0, now=10).remove] == ["p2", "p1"]


def test_smooth_weighted_round_robin_is_exact_and_skips_services_without_replicas() -> None:
    balancer = Balancer(RouterTable({"a": 90, "b": 10}, {"a": ["1", "2"], "b": ["3"]}))
    picks = Counter(balancer.pick() for _ in range(1000))
    assert picks == {("a", "1"): 450, ("a", "2"): 450, ("b", "3"): 100}
    only_a = Balancer(RouterTable({"a": 90, "b": 10}, {"a": ["1"], "b": []}))
    assert {only_a.pick() for _ in range(10)} == {("a", "1")}
    assert Balancer(RouterTable({"a": 100}, {"a": ["1"]})).pick(exclude=["1"]) is None


def test_autoscaler_arithmetic() -> None:
    assert desired_replicas(2, [90.0, 70.0], threshold=40, minimum=1, maximum=10, tolerance=0.1) == 4
    assert desired_replicas(2, [41.0, 39.0], threshold=40, minimum=1, maximum=10, tolerance=0.1) == 2
    assert desired_replicas(4, [1.0] * 4, threshold=40, minimum=2, maximum=10, tolerance=0.1) == 2
    assert desired_replicas(1, [500.0], threshold=40, minimum=1, maximum=3, tolerance=0.1) == 3
    assert desired_replicas(5, [], threshold=40, minimum=1, maximum=3, tolerance=0.1) == 3
