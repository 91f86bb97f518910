"""The fake Kubernetes API server's own behaviour, seen through the official client it stands in front of."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client, watch

from tests.fakes.kubernetes_api import FakeKubernetes

NS = "test"


@pytest.fixture
def fake() -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes(ready_after=0.05).start()
    yield fake
    fake.stop()


@pytest.fixture
def api(fake: FakeKubernetes) -> Iterator[client.ApiClient]:
    configuration = client.Configuration()
    configuration.host = fake.url
    with client.ApiClient(configuration) as api:
        yield api


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def pod(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "busybox", "env": [{"name": "A", "value": "1"}]},
                                    {"name": "side", "image": "envoy"}]}}


def deployment(name: str = "web", replicas: int = 3, image: str = "v1", surge: int = 1, unavailable: int = 0,
               deadline: int = 600) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "progressDeadlineSeconds": deadline,
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


def status_error(exc: pytest.ExceptionInfo[client.ApiException]) -> tuple[int, str]:
    return exc.value.status, json.loads(exc.value.body)["reason"]


def test_list_filters_by_label_selectors(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    for name, labels in {"a": {"tier": "web", "env": "prod"}, "b": {"tier": "web", "env": "dev"},
                         "c": {"tier": "db", "env": "prod"}, "d": {"tier": "cache"}}.items():
        core.create_namespaced_pod(NS, pod(name, **labels))

    def names(selector: str) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod(NS, label_selector=selector).items]

    assert names("tier=web") == ["a", "b"]
    assert names("tier==web,env!=dev") == ["a"]
    assert names("tier in (web, db),env=prod") == ["a", "c"]
    assert names("tier notin (web,db)") == ["d"]
    assert names("env") == ["a", "b", "c"]
    assert names("!env") == ["d"]
    assert names("") == ["a", "b", "c", "d"]
    assert [p.metadata.name for p in core.list_namespaced_pod(NS, field_selector="metadata.name=c").items] == ["c"]
    assert core.list_namespaced_pod("elsewhere").items == []
    with pytest.raises(client.ApiException) as bad:
        core.list_namespaced_pod(NS, label_selector="tier in web")
    assert status_error(bad) == (400, "BadRequest")


def test_create_answers_201_then_409_and_stamps_identity(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created, code, _ = core.create_namespaced_pod_with_http_info(NS, pod("a"))
    assert code == 201
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.generation == 1
    assert created.metadata.namespace == NS and created.metadata.creation_timestamp
    with pytest.raises(client.ApiException) as again:
        core.create_namespaced_pod(NS, pod("a"))
    assert status_error(again) == (409, "AlreadyExists")
    with pytest.raises(client.ApiException) as invalid:
        core.create_namespaced_pod(NS, pod("Not_A_Name"))
    assert status_error(invalid) == (422, "Invalid")
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_pod("ghost", NS)
    assert status_error(missing) == (404, "NotFound")


def test_custom_objects_are_created_with_201_and_served_in_both_istio_versions(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    body = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "vs"},
            "spec": {"hosts": ["web"]}}
    created = custom.create_namespaced_custom_object("networking.istio.io", "v1", NS, "virtualservices", body)
    assert created["metadata"]["uid"] and created["spec"] == {"hosts": ["web"]}
    old = custom.get_namespaced_custom_object("networking.istio.io", "v1beta1", NS, "virtualservices", "vs")
    assert old["apiVersion"] == "networking.istio.io/v1beta1" and old["metadata"]["uid"] == created["metadata"]["uid"]


def test_replace_with_a_stale_resource_version_is_a_conflict(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(NS, deployment(replicas=0))
    wait_for(lambda: apps.read_namespaced_deployment("web", NS).status.observed_generation == 1)
    first = apps.read_namespaced_deployment("web", NS)  # the controller's status write changed the version
    body = deployment(replicas=0, image="v2")
    body["metadata"]["resourceVersion"] = first.metadata.resource_version
    second = apps.replace_namespaced_deployment("web", NS, body)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert second.metadata.generation == 2, "a spec change bumps the generation"
    with pytest.raises(client.ApiException) as stale:
        apps.replace_namespaced_deployment("web", NS, body)  # still carries the first resourceVersion
    assert status_error(stale) == (409, "Conflict")
    assert "the object has been modified" in json.loads(stale.value.body)["message"]

    relabelled = deployment(replicas=0, image="v2")
    relabelled["metadata"]["labels"]["team"] = "ml"
    third = apps.replace_namespaced_deployment("web", NS, relabelled)  # no resourceVersion: unconditional
    assert third.metadata.generation == 2, "a metadata change leaves the generation alone"
    assert third.metadata.uid == first.metadata.uid


def test_replace_refuses_a_changed_deployment_selector(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(NS, deployment(replicas=0))
    moved = deployment(replicas=0)
    moved["spec"]["selector"]["matchLabels"]["extra"] = "x"
    moved["spec"]["template"]["metadata"]["labels"]["extra"] = "x"
    with pytest.raises(client.ApiException) as immutable:
        apps.replace_namespaced_deployment("web", NS, moved)
    assert status_error(immutable) == (422, "Invalid")


def test_defaults_are_filled_like_the_real_server(api: client.ApiClient) -> None:
    body = deployment(replicas=1)
    del body["spec"]["strategy"], body["spec"]["replicas"], body["spec"]["progressDeadlineSeconds"]
    created = client.AppsV1Api(api).create_namespaced_deployment(NS, body)
    assert created.spec.replicas == 1 and created.spec.progress_deadline_seconds == 600
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    core = client.CoreV1Api(api)
    service = core.create_namespaced_service(NS, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                                  "spec": {"ports": [{"name": "grpc", "port": 50051}]}})
    assert service.spec.cluster_ip and service.spec.ports[0].target_port == 50051
    replaced = core.replace_namespaced_service("web", NS, {"apiVersion": "v1", "kind": "Service",
                                                           "metadata": {"name": "web"},
                                                           "spec": {"ports": [{"name": "grpc", "port": 9000}]}})
    assert replaced.spec.cluster_ip == service.spec.cluster_ip, "a replace that leaves clusterIP out keeps it"


def test_strategic_merge_patch_merges_containers_by_name_and_merge_patch_replaces_lists(
        api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(NS, pod("a", tier="web", env="dev"))
    patched = core.patch_namespaced_pod("a", NS, {"metadata": {"labels": {"env": None}},
                                                  "spec": {"containers": [{"name": "side", "image": "envoy:2"}]}})
    assert patched.metadata.labels == {"tier": "web"}, "null deletes"
    assert [(c.name, c.image) for c in patched.spec.containers] == [("main", "busybox"), ("side", "envoy:2")]
    assert patched.spec.containers[0].env[0].value == "1"

    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object("networking.istio.io", "v1", NS, "destinationrules", {
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "dr"},
        "spec": {"host": "web", "subsets": [{"name": "a"}, {"name": "b"}]}})
    merged = custom.patch_namespaced_custom_object("networking.istio.io", "v1", NS, "destinationrules", "dr",
                                                   {"spec": {"subsets": [{"name": "c"}]}})
    assert merged["spec"] == {"host": "web", "subsets": [{"name": "c"}]}

    with pytest.raises(client.ApiException) as json_patch:
        core.patch_namespaced_pod("a", NS, [{"op": "remove", "path": "/metadata/labels"}])
    assert status_error(json_patch) == (415, "UnsupportedMediaType")


def test_watch_streams_existing_objects_then_changes_filtered_by_labels(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(NS, pod("a", tier="web"))
    core.create_namespaced_pod(NS, pod("other", tier="db"))
    events: list[tuple[str, str]] = []
    streamed = threading.Event()

    def consume() -> None:
        stream = watch.Watch().stream(core.list_namespaced_pod, NS, label_selector="tier=web", timeout_seconds=5)
        for event in stream:
            events.append((event["type"], event["object"].metadata.name))
            streamed.set()
            if event["type"] == "DELETED":
                return

    reader = threading.Thread(target=consume)
    reader.start()
    assert streamed.wait(5)
    core.create_namespaced_pod(NS, pod("b", tier="web"))
    core.patch_namespaced_pod("b", NS, {"metadata": {"annotations": {"seen": "yes"}}})
    core.create_namespaced_pod(NS, pod("c", tier="db"))
    core.delete_namespaced_pod("a", NS)
    reader.join(5)
    assert events == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "a")]


def test_watch_resumes_after_a_resource_version(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    since = core.create_namespaced_pod(NS, pod("a")).metadata.resource_version
    core.create_namespaced_pod(NS, pod("b"))
    stream = watch.Watch().stream(core.list_namespaced_pod, NS, resource_version=since, timeout_seconds=5)
    first = next(stream)  # events come in order: "a" would have come first
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "b")
    stream.close()


def test_version_endpoint(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")


def test_controller_rolls_out_within_max_surge_and_max_unavailable(fake: FakeKubernetes,
                                                                   api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(NS, deployment(replicas=3, image="v1"))
    wait_for(lambda: apps.read_namespaced_deployment("web", NS).status.available_replicas == 3)
    first_pods = core.list_namespaced_pod(NS, label_selector="app=web").items
    assert len({p.metadata.labels["pod-template-hash"] for p in first_pods}) == 1
    assert all(p.spec.node_name for p in first_pods)

    seen: list[tuple[int, int]] = []  # (pods, ready pods) at every change
    apps.patch_namespaced_deployment("web", NS, {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "image": "v2"}]}}}})

    def converged() -> bool:
        pods = core.list_namespaced_pod(NS, label_selector="app=web").items
        ready = sum(any(c.type == "Ready" and c.status == "True" for c in p.status.conditions) for p in pods)
        seen.append((len(pods), ready))
        status = apps.read_namespaced_deployment("web", NS).status
        return (status.observed_generation == 2 and status.updated_replicas == 3 and status.replicas == 3
                and status.available_replicas == 3)  # counts of generation 1 would look converged too

    wait_for(converged)
    assert max(total for total, _ in seen) <= 4, "never more than replicas + maxSurge pods"
    assert min(ready for _, ready in seen) >= 3, "never fewer than replicas - maxUnavailable ready"
    images = {p.spec.containers[0].image for p in core.list_namespaced_pod(NS, label_selector="app=web").items}
    assert images == {"v2"}
    deployment_now = apps.read_namespaced_deployment("web", NS)
    assert deployment_now.status.observed_generation == deployment_now.metadata.generation == 2
    progressing = {c.type: c for c in deployment_now.status.conditions}["Progressing"]
    assert progressing.reason == "NewReplicaSetAvailable"


def test_a_template_that_never_becomes_ready_exceeds_the_progress_deadline(fake: FakeKubernetes,
                                                                           api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    fake.never_ready(lambda pod: pod["spec"]["containers"][0]["image"] == "broken")
    apps.create_namespaced_deployment(NS, deployment(replicas=2, image="v1", deadline=1))
    wait_for(lambda: apps.read_namespaced_deployment("web", NS).status.available_replicas == 2)
    apps.replace_namespaced_deployment("web", NS, deployment(replicas=2, image="broken", deadline=1))

    def progressing_reason() -> str:
        conditions = apps.read_namespaced_deployment("web", NS).status.conditions
        return {c.type: c for c in conditions}["Progressing"].reason

    wait_for(lambda: progressing_reason() == "ProgressDeadlineExceeded")
    pods = core.list_namespaced_pod(NS, label_selector="app=web").items
    assert sorted(p.spec.containers[0].image for p in pods) == ["broken", "v1", "v1"], "old pods keep serving"
    status = apps.read_namespaced_deployment("web", NS).status
    assert (status.updated_replicas, status.available_replicas) == (1, 2)


def test_deleting_a_deployment_removes_its_pods_and_deleted_pods_are_replaced(fake: FakeKubernetes,
                                                                             api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(NS, deployment(replicas=2))
    wait_for(lambda: len(core.list_namespaced_pod(NS).items) == 2)
    victim = core.list_namespaced_pod(NS).items[0].metadata.name
    core.delete_namespaced_pod(victim, NS)
    wait_for(lambda: len(core.list_namespaced_pod(NS).items) == 2
             and victim not in {p.metadata.name for p in core.list_namespaced_pod(NS).items})
    apps.delete_namespaced_deployment("web", NS)
    wait_for(lambda: not core.list_namespaced_pod(NS).items)
