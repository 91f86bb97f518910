"""The fake Kubernetes API server's own behaviour, seen through the official client it stands in front of."""

from __future__ import annotations

import itertools
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


@pytest.fixture
def cluster() -> Iterator[Callable[..., client.ApiClient]]:
    """cluster(**options): an API client on a FakeKubernetes(**options), both stopped after the test."""
    started: list[tuple[FakeKubernetes, client.ApiClient]] = []

    def start(**options: object) -> client.ApiClient:
        fake = FakeKubernetes(ready_after=0.05, **options).start()
        configuration = client.Configuration()
        configuration.host = fake.url
        started.append((fake, client.ApiClient(configuration)))
        return started[-1][1]

    yield start
    for fake, api in started:
        api.close()
        fake.stop()


def message(exc: pytest.ExceptionInfo[client.ApiException]) -> tuple[int, str]:
    return exc.value.status, json.loads(exc.value.body)["message"]


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
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.generation is None, "pods carry no generation (before 1.33), as on a real server"
    assert (created.status.phase, created.status.qos_class) == ("Pending", "BestEffort")
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


def test_validation_errors_are_worded_and_aggregated_as_the_real_server_words_them(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    label = "Not a label!"
    refused = deployment(name="refused-a", replicas=0)
    refused["metadata"]["labels"]["kanri.io/service-level"] = label
    refused["spec"]["template"]["metadata"]["labels"]["kanri.io/service-level"] = label
    refused["spec"]["template"]["spec"]["tolerations"] = [{"key": "kanri.io/service-level", "operator": "Equal",
                                                          "value": label, "effect": "NoSchedule"}]
    with pytest.raises(client.ApiException) as invalid:
        apps.create_namespaced_deployment(NS, refused)
    why = (f'Invalid value: "{label}": a valid label must be an empty string or consist of alphanumeric characters, '
           "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
           "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
    assert message(invalid) == (422, f'Deployment.apps "refused-a" is invalid: [metadata.labels: {why}, '
                                     f"spec.template.labels: {why}, spec.template.spec.tolerations[0].operator: {why}]")
    mismatched = deployment(replicas=0)
    mismatched["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(client.ApiException) as unmatched:
        apps.create_namespaced_deployment(NS, mismatched)
    assert message(unmatched) == (422, 'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid '
                                       'value: map[string]string{"app":"other"}: `selector` does not match template '
                                       "`labels`")
    with pytest.raises(client.ApiException) as service:
        client.CoreV1Api(api).create_namespaced_service(NS, {"apiVersion": "v1", "kind": "Service", "metadata": {
            "name": "Bad_Name"}, "spec": {"ports": [{"port": 80}]}})
    assert message(service)[1].startswith('Service "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                                          "a DNS-1035 label must consist of lower case alphanumeric characters")


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


# Server-side apply.

APPLY = "application/apply-patch+yaml"


def applied(api: client.ApiClient, body: dict, manager: str = "kanri", **options: object) -> tuple[int, dict]:
    """(HTTP status, object) of a server-side apply of a Deployment, as a raw answer (201 tells a creation)."""
    response = client.AppsV1Api(api).patch_namespaced_deployment(
        body["metadata"]["name"], NS, body, field_manager=manager, _content_type=APPLY, _preload_content=False,
        **options)
    return response.status, json.loads(response.data)


def managers(obj: dict) -> dict[tuple[str, str], dict]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def test_server_side_apply_creates_and_records_the_fields_each_manager_owns(api: client.ApiClient) -> None:
    body = deployment(replicas=2)
    body["spec"]["template"]["spec"]["containers"][0] |= {"ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                                          "env": [{"name": "A", "value": "1"}]}
    code, created = applied(api, body)
    assert code == 201
    [entry] = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == (
        "kanri", "Apply", "apps/v1", "FieldsV1")
    fields = entry["fieldsV1"]
    assert fields["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert fields["f:spec"]["f:selector"] == {}, "a LabelSelector is atomic"
    web = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert web["."] == {} and web["f:image"] == {} and web["f:env"]['k:{"name":"A"}'] == {
        ".": {}, "f:name": {}, "f:value": {}}
    assert web["f:ports"]['k:{"containerPort":8080,"protocol":"TCP"}'] == {
        ".": {}, "f:containerPort": {}, "f:protocol": {}}
    assert "f:revisionHistoryLimit" not in fields["f:spec"], "defaulted fields are nobody's"
    assert created["spec"]["revisionHistoryLimit"] == 10
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}}
    first, again = (client.CoreV1Api(api).patch_namespaced_service("web", NS, service, field_manager="kanri",
                                                                    _content_type=APPLY) for _ in range(2))
    assert again.metadata.resource_version == first.metadata.resource_version, "the same apply again writes nothing"

    relabelled = client.AppsV1Api(api).patch_namespaced_deployment("web", NS, {"metadata": {"labels": {"team": "ml"}}})
    updater = managers(client.ApiClient().sanitize_for_serialization(relabelled))[
        "OpenAPI-Generator", "Update"]  # no fieldManager: the User-Agent's product, as the real server names it
    assert updater["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    assert updater["apiVersion"] == "apps/v1"


def test_server_side_apply_removes_what_a_manager_no_longer_applies_unless_another_owns_it(
        api: client.ApiClient) -> None:
    body = deployment(replicas=3)
    body["metadata"]["labels"] |= {"shared": "yes", "mine": "yes"}
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy"})
    assert applied(api, body)[0] == 201
    other = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "web", "labels": {"shared": "yes"}}}
    assert applied(api, other, manager="someone-else")[0] == 200
    smaller = deployment(replicas=3)
    del smaller["spec"]["replicas"]
    code, now = applied(api, smaller)
    assert code == 200
    assert now["metadata"]["labels"] == {"app": "web", "shared": "yes"}, "'mine' removed, 'shared' kept"
    assert [c["name"] for c in now["spec"]["template"]["spec"]["containers"]] == ["web"]
    assert now["spec"]["replicas"] == 1, "removed, then defaulted again"
    assert "f:replicas" not in managers(now)["kanri", "Apply"]["fieldsV1"]["f:spec"]


def test_server_side_apply_conflicts_with_another_managers_field_unless_forced(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    applied(api, deployment(replicas=2))
    apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 5}}, field_manager="kube-controller-manager")
    with pytest.raises(client.ApiException) as conflict:
        applied(api, deployment(replicas=3))
    status = json.loads(conflict.value.body)
    assert (conflict.value.status, status["reason"]) == (409, "Conflict")
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "kube-controller-manager" using '
                                 "apps/v1: .spec.replicas")
    assert applied(api, deployment(replicas=5))[0] == 200, "the same value is shared ownership, no conflict"
    code, forced = applied(api, deployment(replicas=3), force=True)
    assert (code, forced["spec"]["replicas"]) == (200, 3)
    assert "kube-controller-manager" not in {m for m, _ in managers(forced)}, "forcing took its only field"


def test_server_side_apply_needs_a_field_manager_and_the_urls_version(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    with pytest.raises(client.ApiException) as unnamed:
        apps.patch_namespaced_deployment("web", NS, deployment(), _content_type=APPLY)
    assert (unnamed.value.status, json.loads(unnamed.value.body)["message"]) == (
        422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    wrong = deployment() | {"apiVersion": "apps/v1beta1"}
    with pytest.raises(client.ApiException) as versioned:
        applied(api, wrong)
    assert (versioned.value.status, json.loads(versioned.value.body)["message"]) == (
        400, "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1")
    with pytest.raises(client.ApiException) as forced:
        apps.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 1}}, force=True)
    assert forced.value.status == 422 and "force: Forbidden: may not be specified for non-apply patch" in \
        json.loads(forced.value.body)["message"]


# Dry runs.

def test_dry_run_answers_as_a_write_would_and_stores_nothing(api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    body = deployment(replicas=0)
    del body["spec"]["replicas"]
    created, code, _ = apps.create_namespaced_deployment_with_http_info(NS, body, dry_run="All")
    assert code == 201 and created.spec.replicas == 1 and created.metadata.uid, "defaulted and stamped"
    assert not created.metadata.resource_version
    assert apps.list_namespaced_deployment(NS).items == []
    with pytest.raises(client.ApiException) as invalid:
        apps.create_namespaced_deployment(NS, deployment(name="Not_A_Name"), dry_run="All")
    assert invalid.value.status == 422, "validated all the same"

    live = apps.create_namespaced_deployment(NS, deployment(replicas=0))
    core.create_namespaced_pod(NS, pod("p"))
    # The controller done with the new Deployment: its status write moves the resourceVersion.
    wait_for(lambda: apps.read_namespaced_deployment("web", NS).status.observed_generation
             == live.metadata.generation, 10)
    version = apps.list_namespaced_deployment(NS).metadata.resource_version
    replaced = apps.replace_namespaced_deployment("web", NS, deployment(replicas=0, image="v2"), dry_run="All")
    patched = apps.patch_namespaced_deployment("web", NS, {"spec": {"minReadySeconds": 7}}, dry_run="All")
    status, applied_body = applied(api, deployment(replicas=0, image="v3"), dry_run="All", force=True)
    core.delete_namespaced_pod("p", NS, dry_run="All")
    assert replaced.spec.template.spec.containers[0].image == "v2" and replaced.metadata.generation == 2
    assert patched.spec.min_ready_seconds == 7 and status == 200
    assert applied_body["spec"]["template"]["spec"]["containers"][0]["image"] == "v3"
    assert apps.list_namespaced_deployment(NS).metadata.resource_version == version, "no write, no version"
    now = apps.read_namespaced_deployment("web", NS)
    assert (now.spec.template.spec.containers[0].image, now.spec.min_ready_seconds, now.metadata.generation) == (
        "v1", None, live.metadata.generation)
    assert core.read_namespaced_pod("p", NS).metadata.name == "p"

    events = watch.Watch().stream(core.list_namespaced_pod, NS, resource_version=version, timeout_seconds=5)
    core.patch_namespaced_pod("p", NS, {"metadata": {"labels": {"seen": "yes"}}}, dry_run="All")
    core.patch_namespaced_pod("p", NS, {"metadata": {"labels": {"real": "yes"}}})
    first = next(events)
    assert first["object"].metadata.labels == {"real": "yes"}, "the dry run sent no event"
    with pytest.raises(client.ApiException) as unknown:
        core.delete_namespaced_pod("p", NS, dry_run="Some")
    assert message(unknown) == (422, 'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                                     '[]string{"Some"}: supported values: "All"')


# Discovery, and what each Kubernetes version serves.

@pytest.mark.parametrize(("version", "autoscaling", "policy"), [
    ("1.20", ["v1", "v2beta1", "v2beta2"], ["v1beta1"]),
    ("1.23", ["v1", "v2", "v2beta1", "v2beta2"], ["v1", "v1beta1"]),
    ("1.25", ["v1", "v2", "v2beta2"], ["v1"]),
    ("1.31", ["v2", "v1"], ["v1"]),
])
def test_discovery_lists_the_versions_a_kubernetes_version_serves(cluster: Callable[..., client.ApiClient],
                                                                  version: str, autoscaling: list[str],
                                                                  policy: list[str]) -> None:
    api = cluster(kubernetes_version=version)
    assert client.VersionApi(api).get_code().git_version == f"v{version}.0"
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    assert [v.version for v in groups["autoscaling"].versions] == autoscaling
    assert groups["autoscaling"].preferred_version.version == autoscaling[0]
    assert [v.version for v in groups["policy"].versions] == policy
    assert {"networking.istio.io", "monitoring.coreos.com", "apps"} <= set(groups)
    assert [v.version for v in groups["security.istio.io"].versions] == ["v1", "v1beta1"]  # as Istio 1.22+ serves it
    assert client.PolicyApi(api).get_api_group().preferred_version.group_version == f"policy/{policy[0]}"
    resources = client.AppsV1Api(api).get_api_resources()
    assert resources.group_version == "apps/v1" and [r.name for r in resources.resources] == ["deployments"]
    assert "services" in {r.name for r in client.CoreV1Api(api).get_api_resources().resources}


def test_an_unserved_group_version_is_the_real_404_for_every_verb(cluster: Callable[..., client.ApiClient]) -> None:
    api = cluster(kubernetes_version="1.20", istio=False)
    not_found = (404, "the server could not find the requested resource")
    with pytest.raises(client.ApiException) as discovery:
        client.AutoscalingV2Api(api).get_api_resources()
    assert message(discovery) == not_found
    for call in (lambda: client.AutoscalingV2Api(api).list_namespaced_horizontal_pod_autoscaler(NS),
                 lambda: client.PolicyV1Api(api).delete_namespaced_pod_disruption_budget("p", NS),
                 lambda: client.CustomObjectsApi(api).list_namespaced_custom_object(
                     "networking.istio.io", "v1", NS, "virtualservices")):
        with pytest.raises(client.ApiException) as refused:
            call()
        assert message(refused) == not_found
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert not {"networking.istio.io", "security.istio.io", "monitoring.coreos.com"} & groups


def with_pod_spec(body: dict, **fields: object) -> dict:
    body["spec"]["template"]["spec"] |= fields
    return body


GRPC = {"grpc": {"port": 50051}}
ACROSS_NAMESPACES = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"labelSelector": {"matchLabels": {"app": "web"}}, "namespaceSelector": {}, "topologyKey": "kubernetes.io/hostname"}
]}}


def grpc_probed(name: str = "web") -> dict:
    body = deployment(name=name, replicas=0)
    body["spec"]["template"]["spec"]["containers"][0] |= {"livenessProbe": GRPC, "readinessProbe": GRPC}
    return body


def test_a_kubernetes_before_1_24_prunes_grpc_probes_and_refuses_the_probe_left(
        cluster: Callable[..., client.ApiClient]) -> None:
    old, new = client.AppsV1Api(cluster(kubernetes_version="1.20")), client.AppsV1Api(cluster())
    with pytest.raises(client.ApiException) as refused:
        old.create_namespaced_deployment(NS, grpc_probed())
    assert message(refused) == (422, 'Deployment.apps "web" is invalid: ['
                                     "spec.template.spec.containers[0].livenessProbe: Required value: must specify a "
                                     "handler type, spec.template.spec.containers[0].readinessProbe: Required value: "
                                     "must specify a handler type]")
    assert new.create_namespaced_deployment(NS, grpc_probed()).spec.template.spec.containers[0].liveness_probe.grpc


def test_server_side_apply_before_the_schema_has_a_field_is_a_500(cluster: Callable[..., client.ApiClient]) -> None:
    """Typing the applied configuration fails where a create would prune: 1.20 has no grpc and no protocol default;
    1.23 has grpc in its schema behind a gate that is off, so it prunes, and the probe left is refused."""
    before, gated = cluster(kubernetes_version="1.20"), cluster(kubernetes_version="1.23")
    body = grpc_probed()
    body["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    with pytest.raises(client.ApiException) as untyped:
        applied(before, body)
    assert message(untyped) == (500, "failed to create typed patch object: errors:\n"
                                     '  .spec.template.spec.containers[name="web"].livenessProbe.grpc: field not '
                                     "declared in schema\n"
                                     '  .spec.template.spec.containers[name="web"].readinessProbe.grpc: field not '
                                     "declared in schema\n"
                                     '  .spec.template.spec.containers[name="web"].ports: element 0: associative list '
                                     'with keys has an element that omits key field "protocol" (and doesn\'t have '
                                     "default value)")
    with pytest.raises(client.ApiException) as pruned:
        applied(gated, body)
    assert pruned.value.status == 422 and "livenessProbe: Required value: must specify a handler type" in \
        message(pruned)[1]


def test_a_kubernetes_before_1_22_drops_the_anti_affinity_namespace_selector(
        cluster: Callable[..., client.ApiClient]) -> None:
    def term(version: str) -> client.V1PodAffinityTerm:
        apps = client.AppsV1Api(cluster(kubernetes_version=version))
        created = apps.create_namespaced_deployment(NS, with_pod_spec(deployment(), affinity=ACROSS_NAMESPACES))
        anti_affinity = created.spec.template.spec.affinity.pod_anti_affinity
        return anti_affinity.required_during_scheduling_ignored_during_execution[0]

    assert term("1.21").namespace_selector is None, "silently: 1.21 has it behind a gate that is off"
    assert term("1.22").namespace_selector is not None


def test_a_service_put_without_its_cluster_ip_is_refused_before_1_22(cluster: Callable[..., client.ApiClient]) -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"ports": [{"name": "grpc", "port": 50051}]}}
    for version, refused in (("1.20", True), ("1.21", True), ("1.22", False)):
        core = client.CoreV1Api(cluster(kubernetes_version=version))
        core.create_namespaced_service(NS, service)
        if not refused:
            assert core.replace_namespaced_service("web", NS, service).spec.cluster_ip
            continue
        with pytest.raises(client.ApiException) as unset:
            core.replace_namespaced_service("web", NS, service)
        assert message(unset) == (422, 'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string(nil): '
                                       "primary clusterIP can not be unset")
        kept = core.patch_namespaced_service("web", NS, {"spec": {"ports": [{"name": "grpc", "port": 9000}]}})
        assert kept.spec.cluster_ip, "a patch starts from the live object: nothing to carry"


# Custom resources.

def test_custom_resources_take_no_strategic_merge_patch_and_no_put_without_a_version(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    args = ("networking.istio.io", "v1", NS, "virtualservices")
    body = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "vs"},
            "spec": {"hosts": ["web"]}}
    created = custom.create_namespaced_custom_object(*args, body)
    assert created["metadata"]["generation"] == 1 and "status" not in created
    with pytest.raises(client.ApiException) as strategic:
        custom.patch_namespaced_custom_object(*args, "vs", {"spec": {"hosts": ["b"]}},
                                              _content_type="application/strategic-merge-patch+json")
    assert message(strategic) == (415, "the body of the request was in an unknown format - accepted media types "
                                       "include: application/json-patch+json, application/merge-patch+json, "
                                       "application/apply-patch+yaml")
    with pytest.raises(client.ApiException) as unversioned:
        custom.replace_namespaced_custom_object(*args, "vs", body)
    assert message(unversioned) == (422, 'VirtualService.networking.istio.io "vs" is invalid: '
                                         "metadata.resourceVersion: Invalid value: 0x0: must be specified for an "
                                         "update")
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    replaced = custom.replace_namespaced_custom_object(*args, "vs", body | {"spec": {"hosts": ["web", "b"]}})
    assert replaced["metadata"]["generation"] == 2
    applied_vs = custom.patch_namespaced_custom_object(
        *args, "vs", {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "vs"},
                      "spec": {"hosts": ["c"]}}, field_manager="kanri", force=True, _content_type=APPLY)
    assert applied_vs["spec"]["hosts"] == ["c"], "lists in a custom resource are atomic"
    gone = custom.delete_namespaced_custom_object(*args, "vs")
    assert gone["metadata"]["name"] == "vs", "a custom resource's delete answers with the object"


# Watches: bookmarks, lost history.

def raw_watch(api: client.ApiClient, **query: object) -> tuple[int, list[dict]]:
    """(HTTP status, events) of one pod watch in NS, read to its end."""
    response = client.CoreV1Api(api).list_namespaced_pod(NS, watch=True, _preload_content=False, **query)
    return response.status, [json.loads(line) for line in response.data.splitlines() if line.strip()]


def first_events(api: client.ApiClient, count: int, **query: object) -> list[tuple[str, str]]:
    """(type, pod name) of the first `count` events of a pod watch in NS."""
    stream = watch.Watch().stream(client.CoreV1Api(api).list_namespaced_pod, NS, timeout_seconds=5, **query)
    events = [(e["type"], e["object"].metadata.name) for e in itertools.islice(stream, count)]
    stream.close()
    return events


def test_watches_send_bookmarks_while_nothing_changes_and_as_they_end(cluster: Callable[..., client.ApiClient]) -> None:
    api = cluster(bookmark_interval=0.3)
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(NS, pod("a"))
    version = core.list_namespaced_pod(NS).metadata.resource_version
    started = time.monotonic()
    status, events = raw_watch(api, resource_version=version, allow_watch_bookmarks=True, timeout_seconds=1)
    assert status == 200 and 0.9 < time.monotonic() - started < 2.5
    assert [e["type"] for e in events] == ["BOOKMARK"] * len(events) and len(events) >= 3
    assert events[-1]["object"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"resourceVersion": version}}
    assert raw_watch(api, resource_version=version, timeout_seconds=1)[1] == [], "only when asked for"


def test_watching_from_a_version_older_than_the_history_is_410_gone(cluster: Callable[..., client.ApiClient]) -> None:
    api = cluster(watch_history=2)
    core = client.CoreV1Api(api)
    first = int(core.create_namespaced_pod(NS, pod("a")).metadata.resource_version)
    for name in ("b", "c", "d"):
        core.create_namespaced_pod(NS, pod(name))
    assert first_events(api, 2, resource_version=str(first + 1)) == [("ADDED", "c"), ("ADDED", "d")]
    status, [event] = raw_watch(api, resource_version=str(first), timeout_seconds=5)
    assert (status, event["type"]) == (200, "ERROR"), "the real server answers 200 and one ERROR event"
    assert event["object"] == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": f"too old resource version: {first} ({first + 1})", "reason": "Expired",
                               "code": 410}
    with pytest.raises(client.ApiException) as gone:
        list(watch.Watch().stream(core.list_namespaced_pod, NS, resource_version=str(first), timeout_seconds=5))
    assert gone.value.status == 410 and gone.value.reason.startswith("Expired: too old resource version:")


def test_compact_forgets_the_history_and_a_fresh_list_resumes(fake: FakeKubernetes, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    before = core.create_namespaced_pod(NS, pod("a")).metadata.resource_version
    core.create_namespaced_pod(NS, pod("b"))
    fake.compact()
    assert raw_watch(api, resource_version=before, timeout_seconds=5)[1][0]["object"]["code"] == 410
    listed = core.list_namespaced_pod(NS)
    assert first_events(api, 2, resource_version="0") == [("ADDED", "a"), ("ADDED", "b")], "the state, then on"
    core.create_namespaced_pod(NS, pod("c"))
    assert first_events(api, 1, resource_version=listed.metadata.resource_version) == [("ADDED", "c")]


# The kubelet: init containers, then containers.

def with_init(body: dict) -> dict:
    spec = body["spec"]["template"]["spec"]
    spec["initContainers"] = [{"name": "fetch", "image": "fetcher"}]
    spec["containers"].append({"name": "sidecar", "image": "envoy"})
    return body


def test_pods_finish_their_init_containers_before_their_containers_start(api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    statuses: list[dict] = []

    def record() -> None:
        for event in watch.Watch().stream(core.list_namespaced_pod, NS, timeout_seconds=5):
            statuses.append(event["raw_object"].get("status", {}))
            if event["raw_object"].get("status", {}).get("phase") == "Running":
                return

    reader = threading.Thread(target=record)
    reader.start()
    apps.create_namespaced_deployment(NS, with_init(deployment(replicas=1)))
    reader.join(5)
    initialized = [s for s in statuses if "initContainerStatuses" in s
                   and "terminated" in s["initContainerStatuses"][0]["state"]]
    first = initialized[0]
    assert first["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert first["phase"] == "Pending", "the init container ended before the containers started"
    assert [c["state"] for c in first["containerStatuses"]] == [{"waiting": {"reason": "ContainerCreating"}}] * 2
    running = statuses[-1]
    assert [(c["name"], c["ready"], "running" in c["state"]) for c in running["containerStatuses"]] == [
        ("web", True, True), ("sidecar", True, True)]
    assert {c["type"]: c["status"] for c in running["conditions"]} == {
        "Initialized": "True", "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"}


def test_native_sidecars_keep_running_from_1_29_and_are_plain_init_containers_before(
        cluster: Callable[..., client.ApiClient]) -> None:
    def init_statuses(version: str) -> list[client.V1ContainerStatus]:
        api = cluster(kubernetes_version=version)
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        apps.create_namespaced_deployment(NS, with_pod_spec(deployment(replicas=1), initContainers=[
            {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]))
        wait_for(lambda: apps.read_namespaced_deployment("web", NS).status.available_replicas == 1)
        [running] = core.list_namespaced_pod(NS).items
        return running.status.init_container_statuses

    [sidecar] = init_statuses("1.29")
    assert (sidecar.started, sidecar.ready, sidecar.state.running is not None) == (True, True, True)
    [plain] = init_statuses("1.28")
    assert plain.state.terminated.reason == "Completed", "restartPolicy was dropped: it ran to completion"


def test_a_failing_init_container_crash_loops_and_leaves_the_pod_pending(fake: FakeKubernetes,
                                                                        api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    fake.fail_init(lambda pod: pod["spec"]["initContainers"][0]["image"] == "fetcher", message="fatal: no repo")
    apps.create_namespaced_deployment(NS, with_init(deployment(replicas=1)))

    def restarts() -> int:
        pods = core.list_namespaced_pod(NS).items
        statuses = pods[0].status.init_container_statuses if pods else None
        return statuses[0].restart_count if statuses else 0

    wait_for(lambda: restarts() >= 2)
    [stuck] = core.list_namespaced_pod(NS).items
    [init] = stuck.status.init_container_statuses
    assert stuck.status.phase == "Pending"
    assert init.state.waiting.reason == "CrashLoopBackOff"
    assert init.state.waiting.message.startswith("back-off ") and "restarting failed container=fetch" in \
        init.state.waiting.message
    ended = init.last_state.terminated
    assert (ended.reason, ended.exit_code, ended.message) == ("Error", 128, "fatal: no repo")
    initialized = {c.type: c for c in stuck.status.conditions}["Initialized"]
    assert (initialized.status, initialized.reason, initialized.message) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [fetch]")
    assert [c.state.waiting.reason for c in stuck.status.container_statuses] == ["PodInitializing"] * 2
    assert not apps.read_namespaced_deployment("web", NS).status.available_replicas


# HorizontalPodAutoscalers and PodDisruptionBudgets in each version served.

def test_hpas_and_pdbs_are_stored_in_every_version_served(cluster: Callable[..., client.ApiClient]) -> None:
    api = cluster(kubernetes_version="1.23")
    custom = client.CustomObjectsApi(api)
    metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                           "averageUtilization": 70}}}]
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    hpa = client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(NS, {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": target, "maxReplicas": 4, "metrics": metrics}})
    assert hpa.spec.min_replicas == 1, "defaulted"
    beta = custom.get_namespaced_custom_object("autoscaling", "v2beta2", NS, "horizontalpodautoscalers", "web")
    assert beta["apiVersion"] == "autoscaling/v2beta2" and beta["spec"]["metrics"] == metrics
    custom.create_namespaced_custom_object("autoscaling", "v2beta2", NS, "horizontalpodautoscalers", {
        "apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "beta"},
        "spec": {"scaleTargetRef": target, "maxReplicas": 2, "metrics": metrics}})
    assert {h.metadata.name for h in client.AutoscalingV2Api(api).list_namespaced_horizontal_pod_autoscaler(
        NS).items} == {"web", "beta"}
    spec = {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}
    for version in ("v1", "v1beta1"):
        response = custom.patch_namespaced_custom_object(
            "policy", version, NS, "poddisruptionbudgets", f"web-{version}",
            {"apiVersion": f"policy/{version}", "kind": "PodDisruptionBudget", "metadata": {"name": f"web-{version}"},
             "spec": spec}, field_manager="kanri", _content_type=APPLY, _preload_content=False)
        created = json.loads(response.data)
        assert (response.status, created["metadata"]["generation"], created["status"]["disruptionsAllowed"]) == (
            201, 1, 0)
    assert len(client.PolicyV1Api(api).list_namespaced_pod_disruption_budget(NS).items) == 2


# Deletion.

def test_delete_follows_its_propagation_policy(fake: FakeKubernetes, api: client.ApiClient) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(NS, deployment(name="fg", replicas=2))
    apps.create_namespaced_deployment(NS, deployment(name="orphan", replicas=1))
    wait_for(lambda: len(core.list_namespaced_pod(NS).items) == 3)
    marked = apps.delete_namespaced_deployment("fg", NS, body=client.V1DeleteOptions(propagation_policy="Foreground"))
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert apps.read_namespaced_deployment("fg", NS).metadata.deletion_timestamp, "there until its pods are gone"
    wait_for(lambda: [d.metadata.name for d in apps.list_namespaced_deployment(NS).items] == ["orphan"])
    assert {p.metadata.labels["app"] for p in core.list_namespaced_pod(NS).items} == {"orphan"}

    status = apps.delete_namespaced_deployment("orphan", NS, propagation_policy="Orphan")
    assert (status["kind"], status["status"], status["details"]["group"], status["details"]["kind"]) == (
        "Status", "Success", "apps", "deployments")
    time.sleep(0.3)
    assert [p.metadata.labels["app"] for p in core.list_namespaced_pod(NS).items] == ["orphan"], "left running"
    with pytest.raises(client.ApiException) as unknown:
        core.delete_namespaced_pod(core.list_namespaced_pod(NS).items[0].metadata.name, NS,
                                   propagation_policy="Sometimes")
    assert message(unknown)[0] == 422 and "propagationPolicy: Unsupported value" in message(unknown)[1]
