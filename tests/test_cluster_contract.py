"""The ClusterBackend contract: one suite, run against every backend in tests/support/backends.py.

Each test uses an application of its own, so the tests share one backend (and,
for the local one, one supervisor) per module without depending on each other.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kanri.console.cluster.base import ClusterBackend, ClusterError, ModelRef, RolloutStatus, RouteSpec, ServiceSpec
from tests.support.backends import BACKENDS, REAL_KUBERNETES, BackendUnderTest, backend_under_test, delete_every_service

LEVEL = "development"


@pytest.fixture(scope="module", params=BACKENDS)
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendUnderTest]:
    real = request.getfixturevalue("real_kubernetes") if request.param == REAL_KUBERNETES else None
    with backend_under_test(request.param, tmp_path_factory.mktemp(request.param), real) as under_test:
        yield under_test


@pytest.fixture(autouse=True)
def clean_slate(cluster: BackendUnderTest) -> Iterator[None]:
    yield
    delete_every_service(cluster.backend)


@pytest.fixture(scope="module")
def models(cluster: BackendUnderTest, echo_models: dict[str, Path]) -> dict[int, ModelRef]:
    stored = {version: cluster.store.put_file(echo_models[name]) for version, name in ((1, "v1"), (2, "v2"))}
    return {version: ModelRef(version, m.uri, m.sha256) for version, m in stored.items()}


@pytest.fixture(scope="module")
def make_spec(cluster: BackendUnderTest, models: dict[int, ModelRef]) -> Callable[..., ServiceSpec]:
    def make(app: str, name: str, version: int = 1, **changes: object) -> ServiceSpec:
        spec = ServiceSpec(app=app, name=name, level=LEVEL, predictor=cluster.predictor, model=models[version],
                           model_store=cluster.store.root)
        return dataclasses.replace(spec, **changes)

    return make


def wait_rollout(backend: ClusterBackend, app: str, service: str, timeout: float = 30.0) -> list[RolloutStatus]:
    events = list(backend.rollout(app, service, timeout=timeout))
    assert events and events[-1].converged, events
    return events


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_backend_implements_the_protocol(cluster: BackendUnderTest) -> None:
    assert isinstance(cluster.backend, ClusterBackend)


def test_deploy_two_services_then_roll_a_new_model_through_each(
        cluster: BackendUnderTest, make_spec: Callable[..., ServiceSpec]) -> None:
    backend = cluster.backend
    for name in ("a", "b"):
        backend.apply(make_spec("roll", name))
    for name in ("a", "b"):
        wait_rollout(backend, "roll", name)
    pods = backend.pods("roll")
    assert sorted(p.service for p in pods) == ["a", "b"]
    assert all(p.ready and p.phase == "Running" and p.model_version == 1 and p.level == LEVEL for p in pods)
    assert backend.address("roll", LEVEL)

    for name in ("a", "b"):
        backend.apply(make_spec("roll", name, version=2))
        events = wait_rollout(backend, "roll", name)
        assert any(not e.converged for e in events), "a rolling update reports progress before it converges"
        assert (events[-1].desired, events[-1].updated, events[-1].available) == (1, 1, 1)
        wait_for(lambda name=name: [p.model_version for p in backend.pods("roll", name)] == [2])
    running = {s.name: s for s in backend.actual_state().services if s.app == "roll"}
    assert {name: s.model_version for name, s in running.items()} == {"a": 2, "b": 2}
    assert running["a"].model_sha256 == make_spec("roll", "a", version=2).model.sha256


def test_scale_up_and_down(cluster: BackendUnderTest, make_spec: Callable[..., ServiceSpec]) -> None:
    backend = cluster.backend
    for replicas in (1, 3, 1):
        backend.apply(make_spec("scale", "a", replicas=replicas))
        status = wait_rollout(backend, "scale", "a")[-1]
        assert (status.desired, status.ready, status.available) == (replicas, replicas, replicas)
        wait_for(lambda replicas=replicas: len(backend.pods("scale", "a")) == replicas)
        assert [s.replicas for s in backend.actual_state().services if s.app == "scale"] == [replicas]


def test_autoscaling_policy_is_applied(cluster: BackendUnderTest, make_spec: Callable[..., ServiceSpec]) -> None:
    backend = cluster.backend
    backend.apply(make_spec("policy", "a", autoscale=True, replicas=1, min_replicas=1, max_replicas=3,
                            cpu_threshold=70))
    wait_rollout(backend, "policy", "a")
    [actual] = [s for s in backend.actual_state().services if s.app == "policy"]
    assert (actual.autoscale, actual.min_replicas, actual.max_replicas, actual.cpu_threshold) == (True, 1, 3, 70)


def test_weights_split_traffic(cluster: BackendUnderTest, make_spec: Callable[..., ServiceSpec]) -> None:
    backend = cluster.backend
    for name in ("main", "canary"):
        backend.apply(make_spec("split", name))
    for name in ("main", "canary"):
        wait_rollout(backend, "split", name)
    for weights in ({"main": 90, "canary": 10}, {"main": 50, "canary": 50}):
        backend.set_route(RouteSpec("split", LEVEL, weights))
        wait_for(lambda weights=weights: any(r.weights == weights for r in backend.actual_state().routes))
        cluster.verify_split("split", LEVEL, weights)


def test_a_route_is_refused_unless_its_weights_sum_to_100_over_services_of_its_level(
        cluster: BackendUnderTest, make_spec: Callable[..., ServiceSpec]) -> None:
    for name in ("main", "canary"):
        cluster.backend.apply(make_spec("badroute", name))
    with pytest.raises(ClusterError, match="sum to 100"):
        cluster.backend.set_route(RouteSpec("badroute", LEVEL, {"main": 50, "canary": 10}))
    with pytest.raises(ClusterError, match="'ghost' is not a service"):
        cluster.backend.set_route(RouteSpec("badroute", LEVEL, {"main": 50, "ghost": 50}))


def test_delete_removes_the_service_and_its_pods(cluster: BackendUnderTest,
                                                 make_spec: Callable[..., ServiceSpec]) -> None:
    backend = cluster.backend
    backend.apply(make_spec("gone", "a"))
    wait_rollout(backend, "gone", "a")
    backend.delete("gone", "a")
    wait_for(lambda: not backend.pods("gone"))
    assert not [s for s in backend.actual_state().services if s.app == "gone"]
    backend.delete("gone", "a")  # deleting what does not exist is not an error
