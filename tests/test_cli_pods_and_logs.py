"""`kanri logs` on Kubernetes (the pod-log fake behind a kubeconfig, read with the official client) and
`kanri pods` showing what keeps a pod from running, as a user runs them through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from kanri.console import wiring
from kanri.console.cluster.base import Pod
from kanri.console.cluster.kubernetes import readback
from tests.fakes.pod_logs import FakePodLogs
from tests.support import pod_objects as objects
from tests.support.kube import write_kubeconfig
from tests.support.memory_backend import MemoryBackend
from tests.support.pod_objects import GIT_FAILED
from tests.support.telemetry_fleet import APP, kanri_cli

NAMESPACE = "kanri"
WEB = "testapp-web"
LABELS = {"kanri.io/app": APP, "kanri.io/service": WEB, "kanri.io/service-level": "production"}


def record(message: str, pod: str) -> str:
    return json.dumps({"@timestamp": "2026-12-04T10:00:00.000+00:00", "level": "error", "app": APP, "service": WEB,
                       "service_level": "production", "pod": pod, "message": message})


@pytest.fixture
def api() -> Iterator[FakePodLogs]:
    fake = FakePodLogs()
    yield fake
    fake.stop()


@pytest.fixture
def kanri(api: FakePodLogs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """kanri on a Kubernetes cluster whose pods run the runtime beside an Istio sidecar."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"east": api.url})
    run = kanri_cli(tmp_path, monkeypatch, KANRI_CLUSTER="kubernetes", KUBECONFIG=str(kubeconfig))
    assert run("service", "list").exit_code == 0  # nothing asked of the cluster yet
    return run


def test_logs_reads_the_runtime_of_every_pod_and_the_previous_run(api: FakePodLogs,
                                                                  kanri: Callable[..., Result]) -> None:
    for pod in ("testapp-web-a", "testapp-web-b"):
        api.add_pod(NAMESPACE, pod, LABELS, containers=("kanri", "istio-proxy"))
        api.write(NAMESPACE, pod, record(f"{pod} serving", pod))
        api.write(NAMESPACE, pod, '"POST /kanri.v1.Predictor/Predict HTTP/2" 200', container="istio-proxy")
    api.restart(NAMESPACE, "testapp-web-a")
    api.write(NAMESPACE, "testapp-web-a", record("testapp-web-a again", "testapp-web-a"))

    now = kanri("logs", APP, "--json")
    assert now.exit_code == 0, now.stderr
    assert sorted(json.loads(line)["message"] for line in now.stdout.splitlines()) == [
        "testapp-web-a again", "testapp-web-b serving"]
    previous = kanri("logs", APP, "--previous", "--json")
    assert previous.exit_code == 0, previous.stderr  # web-b never restarted: left out
    assert [json.loads(line)["message"] for line in previous.stdout.splitlines()] == ["testapp-web-a serving"]
    proxy = kanri("logs", APP, "--container", "istio-proxy", "--pod", "testapp-web-b")
    assert proxy.exit_code == 0 and "POST /kanri.v1.Predictor/Predict" in proxy.stdout


def test_logs_of_a_pod_stuck_fetching_its_predictor(api: FakePodLogs, kanri: Callable[..., Result]) -> None:
    api.add_pod(NAMESPACE, "testapp-web-a", LABELS, waiting={"kanri": "PodInitializing"})
    api.write(NAMESPACE, "testapp-web-a", "Cloning into '/srv/fetched-predictor'...", GIT_FAILED,
              container="fetch-predictor")
    api.restart(NAMESPACE, "testapp-web-a", "fetch-predictor")

    waiting = kanri("logs", APP)
    assert waiting.exit_code == 1
    assert waiting.stderr.startswith(f"error: logs unavailable: Kubernetes pod logs in {NAMESPACE}: container "
                                     '"kanri" in pod "testapp-web-a" is waiting to start: PodInitializing')
    never = kanri("logs", APP, "--previous")
    assert never.exit_code == 1
    assert 'previous terminated container "kanri" in pod "testapp-web-a" not found' in never.stderr
    assert f"; only a container that restarted has a previous run (RESTARTS in `kanri pods {APP}`)" in never.stderr
    assert "RESTARTS" not in waiting.stderr
    fetch = kanri("logs", APP, "--container", "fetch-predictor", "--previous")
    assert fetch.exit_code == 0, fetch.stderr
    assert fetch.stdout.splitlines()[-1].endswith(f"raw     testapp-web-a  {GIT_FAILED}")
    unknown = kanri("logs", APP, "--container", "fetch")
    assert unknown.exit_code == 1 and "container fetch is not valid for pod testapp-web-a" in unknown.stderr


def test_previous_and_container_need_kubernetes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kanri = kanri_cli(tmp_path, monkeypatch)
    for option in (["--previous"], ["--container", "fetch-predictor"]):
        refused = kanri("logs", APP, *option)
        assert refused.exit_code == 1
        assert refused.stderr.startswith("error: --previous and --container read a pod's container through the "
                                         "Kubernetes API, and this kanri runs the embedded cluster")


class StuckCluster(MemoryBackend):
    """The pods a real API server lists during a rollout whose new pod cannot fetch its predictor."""

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        listed = [objects.serving("testapp-web-old"), objects.fetch_crash_loop("testapp-web-new")]
        return [readback.pod(obj, "east") for obj in listed]


def test_pods_shows_the_status_kubectl_shows_and_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "cluster_backend", lambda *settings: StuckCluster())
    kanri = kanri_cli(tmp_path, monkeypatch)
    table = kanri("pods", APP)
    assert table.exit_code == 0, table.stderr
    heading, old, new = table.stdout.splitlines()
    assert heading.split()[:5] == ["NAME", "SERVICE", "STATUS", "READY", "RESTARTS"] and heading.endswith("REASON")
    assert old.split()[:5] == ["testapp-web-old", "main", "Running", "yes", "0"] and old.endswith(" -")
    assert new.split()[:5] == ["testapp-web-new", "main", "Init:CrashLoopBackOff", "no", "4"]
    assert new.endswith(f"init container fetch-predictor: last run exited 128 (Error): {GIT_FAILED}; back-off 40s "
                        "restarting failed container=fetch-predictor pod=testapp-web-new_kanri("
                        "0f6c2b1e-5d0a-4c59-9f3e-2f1d2c7b9a10)")
    [listed] = [p for p in json.loads(kanri("pods", APP, "--json").stdout) if p["name"] == "testapp-web-new"]
    assert (listed["phase"], listed["status"], listed["reason"]) == ("Pending", "Init:CrashLoopBackOff", new[
        new.index("init container"):])
