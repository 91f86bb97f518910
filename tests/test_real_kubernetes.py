"""The real Kubernetes harness is real and does its part: the v1.20.2 API server answers, its controller-manager
rolls Deployments out onto the stand-in kubelet's node, pods/log is proxied to the stand-in kubelet, and the
kubelet can hold a rollout or crash-loop an init container the way a real one reports it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.support.prometheus import wait_until
from tests.support.real_kubernetes.cluster import RealKubernetes

NAMESPACE = "harness"


@pytest.fixture(scope="module")
def api(real_kubernetes: RealKubernetes) -> Iterator[client.ApiClient]:
    real_kubernetes.namespace(NAMESPACE)
    with real_kubernetes.api_client() as api:
        yield api


@pytest.fixture(autouse=True)
def kubelet_released(real_kubernetes: RealKubernetes) -> Iterator[None]:
    yield
    real_kubernetes.kubelet.clear()


def deployment(name: str, containers: tuple[str, ...] = ("main",), replicas: int = 2, **spec: object) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, **spec,
                     "template": {"metadata": {"labels": labels, "annotations": {"kanri.io/model-version": "1"}},
                                  "spec": {"containers": [{"name": c, "image": f"registry.invalid/{c}:1"}
                                                          for c in containers]}}}}


def deploy(api: client.ApiClient, body: dict) -> str:
    client.AppsV1Api(api).create_namespaced_deployment(NAMESPACE, body)
    return body["metadata"]["name"]


def rolled_out(api: client.ApiClient, name: str) -> client.V1DeploymentStatus | None:
    found = client.AppsV1Api(api).read_namespaced_deployment(name, NAMESPACE)
    status = found.status
    done = (status.observed_generation == found.metadata.generation and status.updated_replicas == found.spec.replicas
            and status.ready_replicas == found.spec.replicas)
    return status if done else None


def pods(api: client.ApiClient, name: str) -> list[client.V1Pod]:
    return client.CoreV1Api(api).list_namespaced_pod(NAMESPACE, label_selector=f"app={name}").items


def test_the_server_is_kubernetes_1_20_2(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().git_version == "v1.20.2"


def test_a_deployment_gets_ready_pods_from_the_controller_manager_and_the_stand_in_kubelet(
        api: client.ApiClient, real_kubernetes: RealKubernetes) -> None:
    name = deploy(api, deployment("hello"))
    wait_until(lambda: rolled_out(api, name), 60, "Deployment hello rolled out")
    found = pods(api, name)
    assert len(found) == 2
    for pod in found:
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"  # made by the real controller
        assert pod.spec.node_name == real_kubernetes.kubelet.node
        assert pod.status.phase == "Running"
        assert {c.type: c.status for c in pod.status.conditions} == {
            "Initialized": "True", "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"}
        [status] = pod.status.container_statuses
        assert (status.name, status.ready, status.started, status.restart_count) == ("main", True, True, 0)


def test_pod_logs_are_proxied_by_the_api_server_to_the_stand_in_kubelet(
        api: client.ApiClient, real_kubernetes: RealKubernetes) -> None:
    name = deploy(api, deployment("logs", containers=("main", "sidecar"), replicas=1))
    wait_until(lambda: rolled_out(api, name), 60, "Deployment logs rolled out")
    [pod] = [p.metadata.name for p in pods(api, name)]
    real_kubernetes.kubelet.write_log(NAMESPACE, pod, '{"message": "from the test"}', container="sidecar")
    core = client.CoreV1Api(api)

    text = core.read_namespaced_pod_log(pod, NAMESPACE, container="sidecar", timestamps=True, tail_lines=1)
    stamp, _, line = text.rstrip("\n").partition(" ")
    assert line == '{"message": "from the test"}' and stamp.endswith("Z")
    first = json.loads(core.read_namespaced_pod_log(pod, NAMESPACE, container="main").splitlines()[0])
    assert (first["pod"], first["model_version"], first["level"]) == (pod, "1", "info")

    with pytest.raises(client.ApiException) as unnamed:
        core.read_namespaced_pod_log(pod, NAMESPACE)
    assert unnamed.value.status == 400
    assert json.loads(unnamed.value.body)["message"] == (
        f"a container name must be specified for pod {pod}, choose one of: [main sidecar]")
    with pytest.raises(client.ApiException) as previous:
        core.read_namespaced_pod_log(pod, NAMESPACE, container="main", previous=True)
    assert previous.value.status == 400
    assert json.loads(previous.value.body)["message"] == (
        f'previous terminated container "main" in pod "{pod}" not found')


def test_a_held_pod_keeps_a_rollout_from_finishing_until_the_deployment_controller_gives_up(
        api: client.ApiClient, real_kubernetes: RealKubernetes) -> None:
    real_kubernetes.kubelet.hold_unready(lambda pod: pod["metadata"]["labels"].get("app") == "stuck")
    name = deploy(api, deployment("stuck", replicas=1, progressDeadlineSeconds=2))

    def gave_up() -> client.V1DeploymentCondition | None:
        status = client.AppsV1Api(api).read_namespaced_deployment(name, NAMESPACE).status
        return next((c for c in status.conditions or [] if c.type == "Progressing" and c.status == "False"), None)

    condition = wait_until(gave_up, 60, "Deployment stuck past its progress deadline")
    assert condition.reason == "ProgressDeadlineExceeded"
    assert condition.message == 'ReplicaSet "' + pods(api, name)[0].metadata.owner_references[0].name + (
        '" has timed out progressing.')
    [pod] = pods(api, name)
    assert pod.status.phase == "Running" and not pod.status.container_statuses[0].ready
    real_kubernetes.kubelet.clear()
    wait_until(lambda: rolled_out(api, name), 60, "Deployment stuck rolled out once released")


def test_an_init_container_can_crash_loop_as_a_real_kubelet_reports_it(
        api: client.ApiClient, real_kubernetes: RealKubernetes) -> None:
    real_kubernetes.kubelet.fail_init(lambda pod: pod["metadata"]["labels"].get("app") == "crashing",
                                      "fatal: repository 'https://git.invalid/p.git/' not found")
    body = deployment("crashing", replicas=1)
    body["spec"]["template"]["spec"]["initContainers"] = [{"name": "fetch", "image": "registry.invalid/git:1"}]
    name = deploy(api, body)

    def restarted_twice() -> client.V1ContainerStatus | None:
        found = pods(api, name)
        statuses = found[0].status.init_container_statuses if found else None
        return statuses[0] if statuses and statuses[0].restart_count >= 2 else None

    status = wait_until(restarted_twice, 60, "init container of crashing restarted twice")
    assert status.state.waiting.reason == "CrashLoopBackOff"
    failed = status.last_state.terminated
    assert (failed.reason, failed.exit_code, failed.message) == (
        "Error", 128, "fatal: repository 'https://git.invalid/p.git/' not found")
    [pod] = pods(api, name)
    assert pod.status.phase == "Pending"
    assert {c.type: c.reason for c in pod.status.conditions if c.status == "False"} == {
        "Initialized": "ContainersNotInitialized", "Ready": "ContainersNotReady",
        "ContainersReady": "ContainersNotReady"}
    assert pod.status.container_statuses[0].state.waiting.reason == "PodInitializing"
    previous = client.CoreV1Api(api).read_namespaced_pod_log(pod.metadata.name, NAMESPACE, container="fetch",
                                                             previous=True)
    assert json.loads(previous)["level"] == "error"


def test_a_deleted_deployments_pods_go_away(api: client.ApiClient) -> None:
    name = deploy(api, deployment("doomed"))
    wait_until(lambda: rolled_out(api, name), 60, "Deployment doomed rolled out")
    client.AppsV1Api(api).delete_namespaced_deployment(name, NAMESPACE, propagation_policy="Background")
    wait_until(lambda: not pods(api, name), 60, "the pods of Deployment doomed deleted")
