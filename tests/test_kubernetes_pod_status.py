"""Pod status as `kubectl get pods` shows it, read from pods in the shape a real kubelet writes them
(tests/support/pod_objects.py): the pods read back, and what a stuck rollout says about its pods."""

from __future__ import annotations

import pytest

from kanri.console.cluster.base import Pod
from kanri.console.cluster.kubernetes import readback
from kanri.console.cluster.kubernetes.pod_status import pod_status
from kanri.console.cluster.kubernetes.status import unready_detail
from tests.support import pod_objects as objects
from tests.support.pod_objects import GIT_FAILED

LOOP = "digits-main-7d9f8-loop"
FETCH_LOOP_WHY = (f"init container fetch-predictor: last run exited 128 (Error): {GIT_FAILED}; back-off 40s "
                  f"restarting failed container=fetch-predictor pod={LOOP}_kanri(0f6c2b1e-5d0a-4c59-9f3e-2f1d2c7b9a10)")


@pytest.mark.parametrize(("obj", "status", "reason", "restarts"), [
    (objects.fetching(), "Init:0/1", "ContainersNotInitialized: containers with incomplete status: [fetch-predictor]",
     0),
    (objects.fetch_failed(), "Init:Error", f"init container fetch-predictor: exited 128 (Error): {GIT_FAILED}", 0),
    (objects.fetch_crash_loop(), "Init:CrashLoopBackOff", FETCH_LOOP_WHY, 4),
    (objects.with_native_sidecar(objects.fetch_crash_loop()), "Init:CrashLoopBackOff", FETCH_LOOP_WHY, 4),
    (objects.serving(restarts=2), "Running", "", 2),
    (objects.runtime_crash_loop(), "CrashLoopBackOff",
     "container kanri: last run exited 1 (Error); back-off 40s restarting failed container=kanri "
     "pod=digits-main-7d9f8-crash_kanri(0f6c2b1e-5d0a-4c59-9f3e-2f1d2c7b9a10)", 5),
    (objects.out_of_memory(), "OOMKilled", "container kanri: exited 137 (OOMKilled)", 2),
    (objects.not_ready(), "Running", "ContainersNotReady: containers with unready status: [kanri]", 0),
    (objects.unschedulable(), "Pending", "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.", 0),
    (objects.evicted(), "Evicted", "The node was low on resource: memory.", 0),
    (objects.terminating(objects.runtime_crash_loop()), "Terminating",
     "container kanri: last run exited 1 (Error); back-off 40s restarting failed container=kanri "
     "pod=digits-main-7d9f8-crash_kanri(0f6c2b1e-5d0a-4c59-9f3e-2f1d2c7b9a10)", 5),
], ids=["fetching", "fetch-failed", "fetch-crash-loop", "native-sidecar", "serving", "runtime-crash-loop", "oom",
        "not-ready", "unschedulable", "evicted", "terminating"])
def test_status_reason_and_restarts_read_as_kubectl_shows_them(obj: dict, status: str, reason: str,
                                                               restarts: int) -> None:
    found = pod_status(obj)
    assert (found.status, found.reason, found.restarts) == (status, reason, restarts)


def test_a_pod_read_back_carries_its_status_beside_its_phase() -> None:
    pod = readback.pod(objects.fetch_crash_loop(), "east")
    assert (pod.name, pod.app, pod.service, pod.level, pod.cluster) == (LOOP, "digits", "main", "production", "east")
    assert (pod.phase, pod.status, pod.ready, pod.restarts, pod.model_version) == (
        "Pending", "Init:CrashLoopBackOff", False, 4, 3)
    assert pod.reason == FETCH_LOOP_WHY
    gone = readback.pod(objects.terminating(objects.serving()), "east")
    assert (gone.phase, gone.status) == ("Terminating", "Terminating")


def test_a_backend_that_knows_no_status_shows_its_phase() -> None:
    """The local backend sets only the phase (its own words, CrashLoopBackOff included)."""
    pod = Pod("digits-main-0", "digits", "main", "production", "CrashLoopBackOff", False, 3, 1.0, 1, "127.0.0.1")
    assert (pod.status, pod.reason) == ("CrashLoopBackOff", "")


def test_a_stuck_rollout_names_what_its_pods_show_and_why() -> None:
    pods = [objects.serving("digits-main-old-a"), objects.serving("digits-main-old-b"), objects.fetch_crash_loop()]
    assert unready_detail(pods) == f"1 of 3 pods not ready: Init:CrashLoopBackOff ({LOOP}: {FETCH_LOOP_WHY})"


def test_pods_alike_are_counted_once_and_every_status_is_named() -> None:
    pods = [objects.serving(), objects.fetch_crash_loop("digits-main-b"), objects.fetch_crash_loop("digits-main-a"),
            objects.fetching()]
    detail = unready_detail(pods)
    assert detail.startswith("3 of 4 pods not ready: Init:0/1 (digits-main-7d9f8-fetch: ContainersNotInitialized: ")
    assert "; Init:CrashLoopBackOff ×2 (digits-main-a: init container fetch-predictor: last run exited 128" in detail


def test_ready_pods_need_no_detail() -> None:
    assert unready_detail([objects.serving(), objects.serving("digits-main-7d9f8-ok2")]) == ""
