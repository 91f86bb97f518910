"""Fault injection: kill -9 or SIGTERM one kanri process at a time under steady load (tests/support/faults.py).

The goals: no orphan ever; no failed call when a replica, a worker or the
router of a service with two replicas dies; service back within 3 s after any
single kill; the registry and the cluster agree afterwards (`kanri sync`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kanri.console.cluster.local.files import locked
from tests.support.faults import (
    APP,
    FAULTS,
    LEVEL,
    SERVICE,
    SPARE,
    Fault,
    LocalCluster,
    Outcome,
    run_cluster_fault,
    run_serve_fault,
    wait_for,
)

RECOVERY_SECONDS = 3.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, echo_models: dict[str, Path]) -> Iterator[LocalCluster]:
    """One cluster for every case: each must leave it able to settle again, which the next case checks."""
    cluster = LocalCluster(tmp_path_factory.mktemp("faults"), echo_models)
    try:
        yield cluster
    finally:
        left = cluster.close()
    assert not left, f"still running after kanri local down: {left}"


def outcome_of(fault: Fault, request: pytest.FixtureRequest, tmp_path: Path, echo_models: dict[str, Path]) -> Outcome:
    if fault.on_cluster:
        return run_cluster_fault(request.getfixturevalue("cluster"), fault)
    return run_serve_fault(tmp_path, echo_models["v1"], fault)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_a_single_kill_loses_nothing_and_leaves_nothing(fault: Fault, request: pytest.FixtureRequest,
                                                        tmp_path: Path, echo_models: dict[str, Path]) -> None:
    outcome = outcome_of(fault, request, tmp_path, echo_models)
    assert not outcome.orphans, outcome
    assert not outcome.ports, outcome
    assert outcome.consistent is not False, outcome
    if fault.down_by_design:
        return
    assert outcome.recovery_seconds is not None, f"not served again within the observation: {outcome}"
    assert not outcome.failed, f"{outcome.failed} of {outcome.calls} calls failed: {outcome}"
    assert outcome.recovery_seconds <= RECOVERY_SECONDS, outcome
    assert not outcome.notes, outcome



@pytest.mark.parametrize("command", ["switch", "weights"])
def test_a_cli_killed_after_its_registry_write_leaves_the_service_not_converged_until_sync_fix(
        cluster: LocalCluster, command: str) -> None:
    """The window before the cluster hears of a change: the `kanri` process is held at the desired.json lock (as
    a slow disk or a busy supervisor would hold it) and killed there, its registry change committed."""
    cluster.settle()

    def shown() -> dict:
        return json.loads(cluster.kanri("service", "show", APP, SERVICE, "--json"))

    before = shown()
    if command == "switch":
        target = 3 - before["model_version"]
        args, changed, field = ["switch", APP, SERVICE, str(target)], lambda view: view["model_version"] == target, \
            "model_version"
    else:
        spare = 10 if before["weight"] == 100 else 0
        args, changed, field = ["weights", APP, LEVEL, f"{SERVICE}={100 - spare}", f"{SPARE}={spare}"], \
            lambda view: view["weight"] == 100 - spare, "route"
    with locked(cluster.paths.desired_lock):
        process = cluster.kanri_process(*args)
        try:
            wait_for(lambda: changed(shown()), f"kanri {command} commits its registry change", 30)
            assert shown()["converged"] is False, "the cluster has not taken it yet, and the registry says so"
        finally:
            process.kill()
            process.wait(10)
    assert [d["field"] for d in cluster.drift()] == [field]
    cluster.kanri("sync", "--fix")
    assert shown()["converged"] is True
    wait_for(lambda: not cluster.drift(), "the cluster takes the registry's change")
    cluster.settle()
