"""Services, routes, switching, concurrency, cluster failures and sync, on SQLite and MariaDB.

The cluster here is tests/support/memory_backend.py, a double of kanri's own
ClusterBackend interface; the real backends have their own contract suite.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kanri.console.cluster.base import ClusterError
from kanri.console.errors import Conflict, Invalid, NotFound
from kanri.console.ops import applications, audit, models, routes, services, sync
from kanri.console.ops.context import Context, change, get_app, get_service
from kanri.console.ops.services import ServiceSettings
from tests.support.memory_backend import MemoryBackend
from tests.support.servers import PREDICTORS


@pytest.fixture
def echo(ops: Context, echo_models: dict) -> Context:
    """Application echo with versions 1 and 2, and a development service on v1."""
    applications.create_app(ops, "echo", f"{PREDICTORS}:Echo")
    models.upload_model(ops, "echo", echo_models["v1"])
    models.upload_model(ops, "echo", echo_models["v2"])
    services.create_service(ops, "echo", "echo-dev", "development", 1)
    return ops


def test_creating_a_service_deploys_it_and_gives_the_first_one_all_traffic(echo: Context,
                                                                          memory_backend: MemoryBackend) -> None:
    second = services.create_service(echo, "echo", "echo-dev-b", "development", 2,
                                     ServiceSettings(replicas=2, max_replicas=4, cpu_request="250m",
                                                     memory_limit="1Gi"))
    assert (second.weight, second.replicas, second.min_replicas, second.max_replicas, second.autoscale) == (
        0, 2, 2, 4, True)
    assert services.show_service(echo, "echo", "echo-dev").weight == 100
    spec = memory_backend.services[("echo", "echo-dev-b")]
    assert (spec.model.version, spec.resources.cpu_request, spec.resources.memory_limit) == (2, "250m", "1Gi")
    assert spec.predictor == f"{PREDICTORS}:Echo" and spec.model_store == echo.store.root
    assert memory_backend.routes[("echo", "development")].weights == {"echo-dev": 100, "echo-dev-b": 0}
    assert second.converged and second.address == "memory://echo-development"
    listed = services.list_services(echo, "echo")
    assert {s.address for s in listed} == {"memory://echo-development"}
    assert {s.address for s in services.list_services(echo, "echo", addresses=False)} == {""}  # the cluster unasked


@pytest.mark.parametrize(("settings", "message"), [
    (ServiceSettings(replicas=3, max_replicas=2), "min ≤ replicas ≤ max"),
    (ServiceSettings(replicas=1, min_replicas=0), "at least 1"),
    (ServiceSettings(cpu_threshold=0), "percentage from 1 to 100"),
    (ServiceSettings(max_surge=0, max_unavailable=0), "cannot both be 0"),
    (ServiceSettings(cpu_request="half"), "not a Kubernetes CPU quantity"),
    (ServiceSettings(memory_limit="1 GB"), "not a Kubernetes memory quantity"),
    (ServiceSettings(port=70000), "port must be between"),
])
def test_service_settings_are_validated_before_anything_is_written(echo: Context, settings: ServiceSettings,
                                                                   message: str) -> None:
    with pytest.raises(Invalid, match=message):
        services.create_service(echo, "echo", "echo-x", "development", 1, settings)
    assert [s.name for s in services.list_services(echo)] == ["echo-dev"]


def test_a_service_needs_a_known_model_level_and_name(echo: Context) -> None:
    with pytest.raises(NotFound, match="has no model version 9 \\(versions: 1, 2\\)"):
        services.create_service(echo, "echo", "echo-x", "development", 9)
    with pytest.raises(Invalid, match="service level 'qa' is not one of"):
        services.create_service(echo, "echo", "echo-x", "qa", 1)
    with pytest.raises(Conflict, match="already has a service 'echo-dev'"):
        services.create_service(echo, "echo", "echo-dev", "production", 1)


def test_switch_and_rollback_reach_the_cluster_and_the_audit_trail(echo: Context,
                                                                   memory_backend: MemoryBackend) -> None:
    view = services.switch(echo, "echo", "echo-dev", 2)
    assert (view.model_version, view.previous_model_version) == (2, 1)
    assert memory_backend.services[("echo", "echo-dev")].model.version == 2
    back = services.rollback(echo, "echo", "echo-dev")
    assert (back.model_version, back.previous_model_version) == (1, 2)
    assert memory_backend.calls[-2:] == ["apply echo/echo-dev v2 x1", "apply echo/echo-dev v1 x1"]
    event = audit.audit_trail(echo)[0]
    assert (event.action, event.before["model_version"], event.after["model_version"]) == ("service.rollback", 2, 1)


def test_a_switch_to_an_artifact_whose_bytes_changed_is_refused(echo: Context, memory_backend: MemoryBackend) -> None:
    corrupted = Path(models.show_model(echo, "echo", 2).uri)
    corrupted.write_text("not what was uploaded")
    with pytest.raises(Invalid, match="refusing to switch to v2: checksum mismatch"):
        services.switch(echo, "echo", "echo-dev", 2)
    assert services.show_service(echo, "echo", "echo-dev").model_version == 1
    assert memory_backend.services[("echo", "echo-dev")].model.version == 1


def test_rollback_without_history_is_refused(echo: Context) -> None:
    with pytest.raises(Invalid, match="no previous model"):
        services.rollback(echo, "echo", "echo-dev")


def test_scale_widens_fixed_bounds_and_respects_autoscaling_ones(echo: Context) -> None:
    view = services.scale(echo, "echo", "echo-dev", 3)
    assert (view.replicas, view.min_replicas, view.max_replicas, view.autoscale) == (3, 1, 3, False)
    view = services.autoscale(echo, "echo", "echo-dev", 2, 5, "cpu", 60)
    assert (view.replicas, view.min_replicas, view.max_replicas, view.cpu_threshold, view.autoscale) == (
        3, 2, 5, 60, True)
    with pytest.raises(Invalid, match=r"outside the autoscaling bounds 2\.\.5"):
        services.scale(echo, "echo", "echo-dev", 6)
    with pytest.raises(Invalid, match="min ≤ replicas ≤ max"):
        services.autoscale(echo, "echo", "echo-dev", 4, 2, "cpu", 60)
    off = services.autoscale(echo, "echo", "echo-dev", 2, 2, "cpu", 60)
    assert (off.replicas, off.autoscale) == (2, False)


def test_autoscaling_on_calls_may_go_to_zero_and_cpu_may_not(echo: Context, memory_backend: MemoryBackend) -> None:
    view = services.autoscale(echo, "echo", "echo-dev", 0, 4, "concurrency", 2.5)
    assert (view.min_replicas, view.max_replicas, view.replicas, view.autoscale) == (0, 4, 1, True)
    assert (view.scale_metric, view.scale_target, view.scale_to_zero_after) == (
        "concurrency", 2.5, services.DEFAULT_SCALE_TO_ZERO_AFTER)
    assert view.scale_target_text() == "2.5 in flight, idle 1m → 0"
    spec = memory_backend.services["echo", "echo-dev"]
    assert (spec.scale_metric, spec.scale_target, spec.min_replicas) == ("concurrency", 2.5, 0)
    view = services.autoscale(echo, "echo", "echo-dev", 0, 4, "rps", 40, scale_to_zero_after=30)
    assert (view.scale_metric, view.scale_target, view.scale_to_zero_after) == ("rps", 40, 30)
    with pytest.raises(Invalid, match="only --concurrency or --rps autoscaling can scale to zero"):
        services.autoscale(echo, "echo", "echo-dev", 0, 4, "cpu", 60)
    with pytest.raises(Invalid, match="min replicas must be at least 1, got 0"):
        services.autoscale(echo, "echo", "echo-dev", 0, 0, "rps", 40)
    with pytest.raises(Invalid, match="needs --min 0"):
        services.autoscale(echo, "echo", "echo-dev", 1, 4, "rps", 40, scale_to_zero_after=30)
    with pytest.raises(Invalid, match="above 0"):
        services.autoscale(echo, "echo", "echo-dev", 1, 4, "concurrency", 0)
    with pytest.raises(Invalid, match="one of cpu, concurrency, rps"):
        services.autoscale(echo, "echo", "echo-dev", 1, 4, "memory", 50)
    back = services.autoscale(echo, "echo", "echo-dev", 1, 3, "cpu", 70)
    assert (back.scale_metric, back.scale_target, back.scale_to_zero_after, back.cpu_threshold) == ("cpu", 0, 0, 70)


def test_weights_must_cover_the_levels_services_and_sum_to_100(echo: Context, memory_backend: MemoryBackend) -> None:
    services.create_service(echo, "echo", "echo-dev-b", "development", 2)
    services.create_service(echo, "echo", "echo-prod", "production", 1)
    with pytest.raises(Invalid, match="sum to 100, these sum to 95"):
        routes.set_weights(echo, "echo", "development", {"echo-dev": 90, "echo-dev-b": 5})
    with pytest.raises(Invalid, match="not a service at this level: echo-prod"):
        routes.set_weights(echo, "echo", "development", {"echo-dev": 90, "echo-prod": 10})
    with pytest.raises(NotFound, match="no services at level staging"):
        routes.set_weights(echo, "echo", "staging", {"echo-dev": 100})
    view = routes.set_weights(echo, "echo", "development", {"echo-dev": 90, "echo-dev-b": 10},
                              mirror="echo-prod", mirror_percent=5)
    assert (view.weights, view.mirror, view.mirror_percent) == ({"echo-dev": 90, "echo-dev-b": 10}, "echo-prod", 5)
    cluster = memory_backend.routes[("echo", "development")]
    assert (cluster.weights, cluster.mirror, cluster.mirror_percent) == (view.weights, "echo-prod", 5)
    assert routes.set_weights(echo, "echo", "development", {"echo-dev-b": 100}).weights == {
        "echo-dev": 0, "echo-dev-b": 100}


def test_a_service_taking_traffic_cannot_be_deleted_until_it_is_moved(echo: Context,
                                                                      memory_backend: MemoryBackend) -> None:
    services.create_service(echo, "echo", "echo-dev-b", "development", 2)
    with pytest.raises(Conflict, match="takes 100% of echo's development traffic"):
        services.delete_service(echo, "echo", "echo-dev")
    services.delete_service(echo, "echo", "echo-dev-b")
    services.delete_service(echo, "echo", "echo-dev")
    assert services.list_services(echo) == [] and routes.list_routes(echo) == []
    assert memory_backend.calls[-1] == "delete echo/echo-dev"


def test_the_second_of_two_operators_editing_one_service_is_refused(echo: Context) -> None:
    seen = services.show_service(echo, "echo", "echo-dev")  # both operators load the same version
    services.scale(echo, "echo", "echo-dev", 2, expected_version=seen.version)
    with pytest.raises(Conflict, match="changed by someone else since you loaded it"):
        services.switch(echo, "echo", "echo-dev", 2, expected_version=seen.version)
    after = services.show_service(echo, "echo", "echo-dev")
    assert (after.replicas, after.model_version) == (2, 1)  # the first edit stands, the second wrote nothing


def test_two_sessions_racing_on_one_row_lose_nothing(echo: Context) -> None:
    """Session A reads, session B commits a change, then A writes: the database's version check refuses A."""
    with pytest.raises(Conflict, match="changed by someone else since you loaded it"), \
            change(echo, "service.scale", "echo/echo-dev") as first:
        stale = get_service(first.session, get_app(first.session, "echo"), "echo-dev")
        services.scale(echo, "echo", "echo-dev", 4)  # another operator, another session, commits
        stale.replicas = 2
    assert services.show_service(echo, "echo", "echo-dev").replicas == 4
    assert audit.audit_trail(echo)[0].result == "refused"


def test_a_cluster_failure_keeps_the_desired_state_and_says_so(echo: Context, memory_backend: MemoryBackend) -> None:
    memory_backend.failure = "cannot reach the API server at 127.0.0.1:6443"
    with pytest.raises(ClusterError, match="the registry holds the change, but the cluster did not take it"):
        services.switch(echo, "echo", "echo-dev", 2)
    view = services.show_service(echo, "echo", "echo-dev")
    assert (view.model_version, view.converged) == (2, False)
    assert "6443" in view.cluster_error
    event = audit.audit_trail(echo)[0]
    assert (event.action, event.result) == ("service.switch", "cluster-failed") and "6443" in event.error
    memory_backend.failure = ""
    refused = ("echo/echo-dev", "converged", True, "no: cannot reach the API server at 127.0.0.1:6443")
    fixed = sync.sync(echo, fix=True)
    assert [(d.target, d.field, d.desired, d.actual) for d in fixed] == [refused,
                                                                         ("echo/echo-dev", "model_version", 2, 1)]
    assert services.show_service(echo, "echo", "echo-dev").converged
    assert sync.sync(echo) == []


def test_a_refused_change_stays_reported_until_fix_applies_it_even_when_the_fields_agree(
        echo: Context, memory_backend: MemoryBackend) -> None:
    """The cluster refused; someone then made it run that version by hand. What sync compares agrees, but no
    cluster confirmed kanri's change: sync says so and leaves it unconfirmed, --fix applies it and confirms it."""
    memory_backend.failure = "admission webhook denied the request"
    with pytest.raises(ClusterError):
        services.switch(echo, "echo", "echo-dev", 2)
    memory_backend.failure = ""
    running = memory_backend.services[("echo", "echo-dev")]
    memory_backend.tamper("echo", "echo-dev", model=dataclasses.replace(running.model, version=2))
    reported = [(d.target, d.field, d.actual) for d in sync.sync(echo)]
    assert reported == [("echo/echo-dev", "converged", "no: admission webhook denied the request")]
    assert not services.show_service(echo, "echo", "echo-dev").converged
    sync.sync(echo, fix=True)
    assert services.show_service(echo, "echo", "echo-dev").converged
    assert sync.sync(echo) == []


def test_sync_reports_out_of_band_changes_and_strangers(echo: Context, memory_backend: MemoryBackend) -> None:
    assert sync.sync(echo) == []
    memory_backend.tamper("echo", "echo-dev", replicas=5)
    memory_backend.routes[("echo", "development")] = memory_backend.routes[("echo", "development")].__class__(
        "echo", "development", {"echo-dev": 50})
    stranger = memory_backend.services[("echo", "echo-dev")].__class__(
        **{**memory_backend.services[("echo", "echo-dev")].__dict__, "name": "handmade"})
    memory_backend.services[("echo", "handmade")] = stranger
    found = {(d.target, d.field): (d.desired, d.actual) for d in sync.sync(echo)}
    assert found == {("echo/echo-dev", "replicas"): (1, 5),
                     ("echo/development", "route"): ({"echo-dev": 100}, {"echo-dev": 50}),
                     ("echo/handmade", "service"): (None, "running, not in the registry")}
    sync.sync(echo, fix=True)
    assert memory_backend.services[("echo", "echo-dev")].replicas == 1
    assert memory_backend.routes[("echo", "development")].weights == {"echo-dev": 100}
