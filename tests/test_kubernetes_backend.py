"""KubernetesBackend through the official client against the fake API server (tests/fakes/kubernetes_api).

What is Kubernetes-specific: the objects and what they carry, rollouts seen
through the simulated deployment controller, Istio routes, several clusters,
unreachable API servers, and reading back edits made behind kanri's back.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from kanri.console.cluster.base import ClusterError, ModelRef, Resources, RolloutStatus, RouteSpec, ServiceSpec
from kanri.console.cluster.kubernetes import KubernetesBackend, ObjectOptions, render_service_yaml
from tests.support.kube import NAMESPACE, FakeClusters, fake_clusters, write_kubeconfig
from tests.support.recording_proxy import RecordingProxy, proxied_client, recording_proxy

LEVEL = "production"
V1 = ModelRef(1, "s3://models/digits/v1.skops", "1" * 64)
V2 = ModelRef(2, "s3://models/digits/v2.skops", "2" * 64)
BROKEN = ModelRef(3, "s3://models/digits/v3.skops", "3" * 64)
ISTIO = "networking.istio.io"


def make_spec(app: str, name: str = "a", **changes: object) -> ServiceSpec:
    spec = ServiceSpec(app=app, name=name, level=LEVEL, predictor="predictor.py:Digits", model=V1,
                       model_store="s3://models")
    return dataclasses.replace(spec, **changes)


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeClusters]:
    with fake_clusters(tmp_path_factory.mktemp("kube")) as clusters:
        for fake in clusters.fakes.values():  # a model that never loads: its pods never become ready
            fake.never_ready(lambda pod: pod["metadata"]["annotations"]["kanri.io/model-sha256"] == BROKEN.sha256)
        yield clusters


@pytest.fixture(scope="module")
def backend(clusters: FakeClusters) -> KubernetesBackend:
    return clusters.backend()


@pytest.fixture(scope="module")
def api(clusters: FakeClusters) -> client.ApiClient:
    """The official client on the fake, for edits made behind kanri's back (someone with kubectl)."""
    configuration = client.Configuration()
    configuration.host = next(iter(clusters.fakes.values())).url
    return client.ApiClient(configuration)


def converge(backend: KubernetesBackend, app: str, service: str = "a") -> list[RolloutStatus]:
    events = list(backend.rollout(app, service, timeout=10))
    assert events and events[-1].converged, events
    return events


def find(clusters: FakeClusters, plural: str, name: str, group: str = "") -> dict | None:
    return next((o for o in clusters.objects(plural, group) if o["metadata"]["name"] == name), None)


def test_objects_carry_identity_probes_resources_and_placement(backend: KubernetesBackend,
                                                               clusters: FakeClusters) -> None:
    resources = Resources(cpu_request="500m", cpu_limit="1", memory_request="1Gi", memory_limit="2Gi", gpus=1)
    backend.apply(make_spec("objects", replicas=2, max_surge=2, max_unavailable=1, port=50052, resources=resources))
    converge(backend, "objects")
    identity = {"app.kubernetes.io/managed-by": "kanri", "kanri.io/app": "objects", "kanri.io/service": "a",
                "kanri.io/service-level": LEVEL}
    deployment, service, budget = (find(clusters, plural, "objects-a", group) for plural, group in
                                   (("deployments", "apps"), ("services", ""), ("poddisruptionbudgets", "policy")))
    for obj in (deployment, service, budget, deployment["spec"]["template"]["metadata"]):
        assert identity.items() <= obj.get("metadata", obj)["labels"].items()

    spec = deployment["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}
    assert (spec["replicas"], spec["progressDeadlineSeconds"]) == (2, 1)
    template = spec["template"]
    assert template["metadata"]["annotations"].items() >= {
        "kanri.io/model-uri": V1.uri, "kanri.io/model-sha256": V1.sha256, "kanri.io/model-version": "1",
        "prometheus.io/scrape": "true", "prometheus.io/port": "9102"}.items()
    [container] = template["spec"]["containers"]
    assert container["command"] == ["kanri", "serve"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env.items() >= {"KANRI_MODEL": V1.uri, "KANRI_MODEL_SHA256": V1.sha256, "KANRI_MODEL_VERSION": "1",
                           "KANRI_APP": "objects", "KANRI_SERVICE": "a", "KANRI_SERVICE_LEVEL": LEVEL,
                           "KANRI_PREDICTOR": "predictor.py:Digits", "KANRI_HOST": "0.0.0.0",
                           "KANRI_PORT": "50052", "KANRI_METRICS_PORT": "9102"}.items()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 50052}
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                      "limits": {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"}}
    assert template["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    anti = template["spec"]["affinity"]["podAntiAffinity"]
    [required] = anti["requiredDuringSchedulingIgnoredDuringExecution"]
    assert {"key": "kanri.io/service-level", "operator": "NotIn", "values": [LEVEL]} in \
        required["labelSelector"]["matchExpressions"]
    assert required["topologyKey"] == "kubernetes.io/hostname"
    [preferred] = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["podAffinityTerm"]["labelSelector"] == {"matchLabels": {"kanri.io/app": "objects",
                                                                             "kanri.io/service": "a"}}

    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [("grpc", 50052), ("http", 8080),
                                                                          ("metrics", 9102)]
    assert budget["spec"]["maxUnavailable"] == 1
    assert find(clusters, "horizontalpodautoscalers", "objects-a", "autoscaling") is None
    pods = backend.pods("objects")
    assert len(pods) == 2 and {p.host for p in pods} and all(p.ready and p.model_version == 1 for p in pods)


def test_render_prints_exactly_what_is_applied(backend: KubernetesBackend, clusters: FakeClusters) -> None:
    spec = make_spec("render", autoscale=True, min_replicas=2, max_replicas=4)
    route = RouteSpec("render", LEVEL, {"a": 100})
    backend.apply(spec)
    backend.set_route(route)
    documents = list(yaml.safe_load_all(render_service_yaml(spec, route, NAMESPACE, backend.options)))
    assert [d["kind"] for d in documents] == ["Deployment", "Service", "PodDisruptionBudget",
                                              "HorizontalPodAutoscaler", "Service", "DestinationRule",
                                              "VirtualService"]
    applied = {(o["kind"], o["metadata"]["name"]): o for plural, group in (
        ("deployments", "apps"), ("services", ""), ("poddisruptionbudgets", "policy"),
        ("horizontalpodautoscalers", "autoscaling"), ("destinationrules", ISTIO), ("virtualservices", ISTIO))
        for o in clusters.objects(plural, group)}
    for document in documents:
        live = applied[document["kind"], document["metadata"]["name"]]
        assert live["metadata"]["labels"] == document["metadata"]["labels"]
        for field, rendered in document["spec"].items():  # the server adds defaults; it changes nothing given
            assert given_in(rendered, live["spec"][field]), (document["kind"], field)


def given_in(given: object, live: object) -> bool:
    """Whether everything given is in the live object as given (lists item by item), whatever defaults it gained."""
    if isinstance(given, dict):
        return isinstance(live, dict) and all(k in live and given_in(v, live[k]) for k, v in given.items())
    if isinstance(given, list):
        return isinstance(live, list) and len(given) == len(live) and all(map(given_in, given, live))
    return given == live


def test_a_model_switch_is_a_rolling_update_seen_progressing(backend: KubernetesBackend) -> None:
    backend.apply(make_spec("switch", replicas=2, max_surge=1, max_unavailable=0))
    converge(backend, "switch")
    before = {p.name for p in backend.pods("switch")}
    backend.apply(make_spec("switch", replicas=2, max_surge=1, max_unavailable=0, model=V2))
    events = converge(backend, "switch")
    assert any(not e.converged for e in events), "progress is reported before convergence"
    assert all(e.available >= 2 for e in events if e.message.startswith("waiting for rollout")), \
        "max unavailable 0: two replicas stay available throughout"
    assert (events[-1].desired, events[-1].updated, events[-1].ready, events[-1].available) == (2, 2, 2, 2)
    pods = backend.pods("switch", "a")
    assert [p.model_version for p in pods] == [2, 2] and not before & {p.name for p in pods}
    assert backend.status("switch", "a").converged


def test_a_stuck_rollout_is_reported_with_its_reason_and_old_pods_keep_serving(backend: KubernetesBackend) -> None:
    backend.apply(make_spec("stuck", replicas=2))
    converge(backend, "stuck")
    backend.apply(make_spec("stuck", replicas=2, model=BROKEN))
    events = list(backend.rollout("stuck", "a", timeout=10))
    last = events[-1]
    assert not last.converged and last.stuck.startswith("progress deadline (1 s) exceeded: 1 of 3 pods not ready")
    assert "exceeded its progress deadline" in last.message
    assert backend.status("stuck", "a").stuck == last.stuck
    pods = backend.pods("stuck")
    assert sorted((p.model_version, p.ready) for p in pods) == [(1, True), (1, True), (3, False)]

    backend.apply(make_spec("stuck", replicas=2))  # rollback: the old template again
    converge(backend, "stuck")
    assert [p.model_version for p in backend.pods("stuck")] == [1, 1]


def test_a_rollout_that_outlasts_its_timeout_ends_as_timed_out(backend: KubernetesBackend) -> None:
    backend.apply(make_spec("slow", model=BROKEN))
    events = list(backend.rollout("slow", "a", timeout=0.2))
    assert events[-1].stuck == "timed out" and "not converged after 0.2 s" in events[-1].message


def test_autoscaling_creates_updates_and_removes_the_hpa(backend: KubernetesBackend, clusters: FakeClusters,
                                                         api: client.ApiClient) -> None:
    def hpa() -> dict | None:
        return find(clusters, "horizontalpodautoscalers", "scaled-a", "autoscaling")

    backend.apply(make_spec("scaled", autoscale=True, min_replicas=2, max_replicas=5, cpu_threshold=70))
    created = hpa()
    assert created["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled-a"}
    assert (created["spec"]["minReplicas"], created["spec"]["maxReplicas"]) == (2, 5)
    assert created["spec"]["metrics"][0]["resource"] == {"name": "cpu", "target": {"type": "Utilization",
                                                                                  "averageUtilization": 70}}
    client.AppsV1Api(api).patch_namespaced_deployment("scaled-a", NAMESPACE, {"spec": {"replicas": 4}})  # the HPA

    backend.apply(make_spec("scaled", autoscale=True, min_replicas=2, max_replicas=8, cpu_threshold=60))
    updated = hpa()
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert (updated["spec"]["maxReplicas"], updated["spec"]["metrics"][0]["resource"]["target"]
            ["averageUtilization"]) == (8, 60)
    [actual] = [s for s in backend.actual_state().services if s.app == "scaled"]
    assert (actual.autoscale, actual.replicas, actual.min_replicas, actual.max_replicas, actual.cpu_threshold) == \
        (True, 4, 2, 8, 60), "an apply leaves the replica count to the HPA"

    backend.apply(make_spec("scaled", replicas=3, min_replicas=2, max_replicas=8, cpu_threshold=60))
    assert hpa() is None
    [actual] = [s for s in backend.actual_state().services if s.app == "scaled"]
    assert (actual.autoscale, actual.replicas, actual.min_replicas, actual.max_replicas) == (False, 3, 2, 8)


def test_route_weights_and_mirror_become_istio_objects(backend: KubernetesBackend, clusters: FakeClusters) -> None:
    for name in ("main", "canary", "shadow"):
        backend.apply(make_spec("split", name))
    backend.set_route(RouteSpec("split", LEVEL, {"main": 90, "canary": 10}, mirror="shadow", mirror_percent=5))
    host = f"split-{LEVEL}.{NAMESPACE}.svc.cluster.local"
    virtual_service = find(clusters, "virtualservices", f"split-{LEVEL}", ISTIO)
    assert virtual_service["apiVersion"] == f"{ISTIO}/v1beta1" and virtual_service["spec"]["hosts"] == [host]
    [http] = virtual_service["spec"]["http"]
    assert virtual_service["spec"]["gateways"] == ["mesh"] and "match" not in http
    assert [(r["destination"]["host"], r["destination"]["subset"], r["weight"]) for r in http["route"]] == \
        [(host, "canary", 10), (host, "main", 90)]
    assert (http["mirror"]["subset"], http["mirrorPercentage"]) == ("shadow", {"value": 5.0})
    rule = find(clusters, "destinationrules", f"split-{LEVEL}", ISTIO)
    assert rule["spec"]["host"] == host
    assert {s["name"]: s["labels"] for s in rule["spec"]["subsets"]} == {
        name: {"kanri.io/service": name} for name in ("canary", "main", "shadow")}
    level_service = find(clusters, "services", f"split-{LEVEL}")
    assert level_service["spec"]["selector"] == {"kanri.io/app": "split", "kanri.io/service-level": LEVEL}
    assert backend.address("split", LEVEL) == f"{host}:50051"

    backend.set_route(RouteSpec("split", LEVEL, {"main": 50, "canary": 50}))
    [route] = [r for r in backend.actual_state().routes if r.app == "split"]
    assert route == RouteSpec("split", LEVEL, {"main": 50, "canary": 50}), "the mirror is gone with it"
    assert clusters.route_weights("split", LEVEL) == {"kind-kanri": {"main": 50, "canary": 50}}

    with pytest.raises(ClusterError, match="sum to 100"):
        backend.set_route(RouteSpec("split", LEVEL, {"main": 50, "canary": 10}))
    with pytest.raises(ClusterError, match="'ghost' is not a service of split at production"):
        backend.set_route(RouteSpec("split", LEVEL, {"main": 50, "ghost": 50}))


def test_an_ingress_gateway_gets_a_virtual_service_of_its_own_on_the_shared_host(clusters: FakeClusters) -> None:
    """Mesh routing keeps the level's own host; the shared ingress host is bound to the gateway alone, so the
    VirtualServices of different applications never bind one host to the mesh twice (Istio's IST0109)."""
    options = ObjectOptions(gateway="istio-system/kanri", ingress_host="models.example.com")
    backend = clusters.backend(options=options)
    for name in ("a", "b"):
        backend.apply(make_spec("gateway", name))
    backend.set_route(RouteSpec("gateway", LEVEL, {"a": 100}))
    mesh, ingress = (find(clusters, "virtualservices", name, ISTIO) for name in
                     (f"gateway-{LEVEL}", f"gateway-{LEVEL}-ingress"))
    assert (mesh["spec"]["gateways"], ingress["spec"]["gateways"]) == (["mesh"], ["istio-system/kanri"])
    assert (mesh["spec"]["hosts"], ingress["spec"]["hosts"]) == ([f"gateway-{LEVEL}.{NAMESPACE}.svc.cluster.local"],
                                                                 ["models.example.com"])
    assert ingress["spec"]["http"][1]["match"] == [{"headers": {"x-kanri-app": {"exact": "gateway"},
                                                                "x-kanri-service-level": {"exact": LEVEL}}}]
    assert [r.weights for r in backend.actual_state().routes if r.app == "gateway"] == [{"a": 100}]
    assert backend.address("gateway", LEVEL) == "models.example.com:443"
    for name in ("a", "b"):
        backend.delete("gateway", name)
    assert not [vs for vs in clusters.objects("virtualservices", ISTIO) if vs["metadata"]["name"].startswith(
        "gateway-")], "both routes go with the level's last service"


@pytest.mark.parametrize("own_image", ["", "registry.example.com/digits:7"])
def test_the_init_container_runs_the_fetch_image_whatever_the_runtimes(own_image: str) -> None:
    """git lives in its own small image, not in the runtime's (nor in images derived from it)."""
    route = RouteSpec("image", LEVEL, {"a": 100})
    options = ObjectOptions()
    [deployment, *_] = yaml.safe_load_all(render_service_yaml(make_spec("image", image=own_image), route, NAMESPACE,
                                                              options))
    pod = deployment["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["initContainers"] + pod["containers"]] == [options.fetch_image,
                                                                                own_image or options.image]


def test_the_fetched_predictor_does_not_hide_a_derived_images_predictor() -> None:
    """A derived image carries its predictor in /srv/predictor; the init container's clone goes beside it, since a
    volume mounted there would hide it, and both are on the runtime's import path, the fetched one first."""
    route = RouteSpec("code", LEVEL, {"a": 100})
    [deployment, *_] = yaml.safe_load_all(render_service_yaml(make_spec("code", model_store="/var/lib/kanri/models"),
                                                              route, NAMESPACE, ObjectOptions()))
    pod = deployment["spec"]["template"]["spec"]
    [fetch], [runtime] = pod["initContainers"], pod["containers"]
    mounted = [m["mountPath"].rstrip("/") + "/" for c in (fetch, runtime) for m in c["volumeMounts"]]
    assert not [path for path in mounted if "/srv/predictor/".startswith(path)], mounted
    [target] = fetch["command"][1:]
    assert target in [m["mountPath"] for m in runtime["volumeMounts"]]
    [python_path] = [e["value"] for e in runtime["env"] if e["name"] == "PYTHONPATH"]
    assert python_path.split(":") == [target, "/srv/predictor"]


def test_actual_state_shows_edits_made_behind_kanris_back(backend: KubernetesBackend,
                                                          api: client.ApiClient) -> None:
    backend.apply(make_spec("drift", replicas=2))
    backend.apply(make_spec("drift", "b", replicas=1))
    backend.set_route(RouteSpec("drift", LEVEL, {"a": 80, "b": 20}))
    client.AppsV1Api(api).patch_namespaced_deployment("drift-a", NAMESPACE, {"spec": {"replicas": 5}})
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        ISTIO, "v1beta1", NAMESPACE, "virtualservices", f"drift-{LEVEL}",
        {"spec": {"http": [{"route": [{"destination": {"subset": "a"}, "weight": 100}]}]}})
    state = backend.actual_state()
    assert {s.name: s.replicas for s in state.services if s.app == "drift"} == {"a": 5, "b": 1}
    assert [r.weights for r in state.routes if r.app == "drift"] == [{"a": 100}]
    assert backend.status("drift", "a").desired == 5

    backend.apply(make_spec("drift", replicas=2))  # applying the registry's state again undoes the drift
    assert {s.name: s.replicas for s in backend.actual_state().services if s.app == "drift"} == {"a": 2, "b": 1}


def test_objects_kanri_does_not_manage_are_left_alone(backend: KubernetesBackend, api: client.ApiClient) -> None:
    labels = {"app": "theirs"}
    client.AppsV1Api(api).create_namespaced_deployment(NAMESPACE, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "theirs-a", "labels": labels},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "x", "image": "x"}]}}}})
    with pytest.raises(ClusterError, match="Deployment kanri/theirs-a exists and is not managed by kanri"):
        backend.apply(make_spec("theirs"))
    with pytest.raises(ClusterError, match="not managed by kanri; it was left alone"):
        backend.delete("theirs", "a")


def test_delete_removes_the_service_and_the_route_with_the_last_service(backend: KubernetesBackend,
                                                                        clusters: FakeClusters) -> None:
    for name in ("a", "b"):
        backend.apply(make_spec("gone", name))
        converge(backend, "gone", name)
    backend.set_route(RouteSpec("gone", LEVEL, {"a": 50, "b": 50}))
    backend.delete("gone", "a")
    assert not [o for plural, group in (("deployments", "apps"), ("services", ""), ("poddisruptionbudgets", "policy"))
                if (o := find(clusters, plural, "gone-a", group))]
    assert find(clusters, "virtualservices", f"gone-{LEVEL}", ISTIO), "b still serves the level"
    backend.delete("gone", "b")
    assert find(clusters, "virtualservices", f"gone-{LEVEL}", ISTIO) is None
    assert find(clusters, "services", f"gone-{LEVEL}") is None
    deadline = time.monotonic() + 5
    while backend.pods("gone"):
        assert time.monotonic() < deadline, "the pods go with their Deployment"
        time.sleep(0.05)
    backend.delete("gone", "b")  # deleting what does not exist is not an error
    with pytest.raises(ClusterError, match="not deployed"):
        backend.status("gone", "a")


@pytest.mark.parametrize(("service", "problem"), [("production", "named like a service level"),
                                                  ("Bad_Name", "cannot name Kubernetes objects")])
def test_names_kubernetes_cannot_carry_are_refused(backend: KubernetesBackend, service: str, problem: str) -> None:
    with pytest.raises(ClusterError, match=problem):
        backend.apply(make_spec("names", service))


def test_a_refusal_by_the_api_server_is_one_clear_line(backend: KubernetesBackend, clusters: FakeClusters) -> None:
    with pytest.raises(ClusterError) as refused:
        backend.apply(make_spec("refused", level="Not a label!"))
    assert str(refused.value).startswith(
        'cluster kind-kanri: cannot check Service kanri/refused-a: Service "refused-a" is invalid: '
        'metadata.labels: Invalid value: "Not a label!": a valid label must be')
    assert str(refused.value).endswith("; the object is invalid for this cluster; check its version and admission "
                                       "policies (nothing was changed on any cluster)")
    assert find(clusters, "services", "refused-a") is None and find(clusters, "deployments", "refused-a", "apps") \
        is None, "refused in the dry run, before anything was written"


def test_services_fan_out_to_every_cluster_and_report_per_cluster(tmp_path: Path) -> None:
    with fake_clusters(tmp_path, ("east", "west")) as clusters:
        backend = clusters.backend()
        backend.apply(make_spec("fan", replicas=2))
        events = converge(backend, "fan")
        assert {e.cluster for e in events if e.converged} == {"east", "west"}
        assert {(p.cluster, p.model_version) for p in backend.pods("fan")} == {("east", 1), ("west", 1)}
        assert len(backend.pods("fan")) == 4
        total = backend.status("fan", "a")
        assert (total.desired, total.available, total.converged, total.cluster) == (4, 4, True, "east,west")
        assert {s.cluster for s in backend.actual_state().services} == {"east", "west"}
        backend.set_route(RouteSpec("fan", LEVEL, {"a": 100}))
        clusters.verify_split()("fan", LEVEL, {"a": 100})

        clusters.fakes["west"].stop()
        started = time.monotonic()
        with pytest.raises(ClusterError, match=r"^cluster west: cannot .*\(nothing was changed on any cluster\)$"):
            backend.apply(make_spec("fan", replicas=3))
        assert time.monotonic() - started < 5
        assert find(clusters, "deployments", "fan-a", "apps")["spec"]["replicas"] == 2, "east is left as it was"
        with pytest.raises(ClusterError, match=r"^cluster west: cannot .*\(the other 1 clusters succeeded\)$"):
            backend.pods("fan")
        only_east = clusters.backend(["east"])
        assert [p.cluster for p in only_east.pods("fan")] == ["east"] * len(only_east.pods("fan"))


def test_an_unreachable_api_server_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {
            "refused": refused, "silent": f"http://127.0.0.1:{silent.getsockname()[1]}"})
        for context, cause in (("refused", "Connection refused"), ("silent", "Read timed out")):
            backend = KubernetesBackend([context], NAMESPACE, str(kubeconfig), timeout=(0.5, 0.5))
            started = time.monotonic()
            with pytest.raises(ClusterError) as failure:
                backend.apply(make_spec("far"))
            assert time.monotonic() - started < 5
            message = str(failure.value)
            assert message.startswith(f"cluster {context}: cannot read the server version: "
                                      "the Kubernetes API at http://127.0.0.1:") and cause in message
            assert message.endswith("check that the context points at a running API server you can reach")
            assert "\n" not in message


def test_an_unknown_context_is_a_clear_error(clusters: FakeClusters) -> None:
    with pytest.raises(ClusterError, match=r"cannot use the Kubernetes configuration .*kubeconfig.*get-contexts"):
        KubernetesBackend(["nowhere"], NAMESPACE, str(clusters.kubeconfig))


def test_ready_made_api_clients_can_be_given_instead_of_contexts(backend: KubernetesBackend,
                                                                 api: client.ApiClient) -> None:
    backend.apply(make_spec("ready"))
    converge(backend, "ready")
    given = KubernetesBackend(namespace=NAMESPACE, api_clients={"mine": api})
    assert [(p.app, p.cluster) for p in given.pods("ready")] == [("ready", "mine")]


def through(proxy: RecordingProxy, clusters: FakeClusters) -> KubernetesBackend:
    """A backend on the first fake whose every request passes the proxy, which may drop or refuse it."""
    return KubernetesBackend(api_clients={"kind-kanri": proxied_client(clusters.fakes["kind-kanri"].url, proxy.url)},
                             namespace=NAMESPACE, options=clusters.backend().options, timeout=(2.0, 5.0))


def test_a_change_cut_off_midway_says_what_was_applied_and_the_same_command_finishes_it(
        clusters: FakeClusters) -> None:
    """The API server goes away after the dry run passed and the first writes landed: the error names what was
    applied and what was not, and the Deployment (whose pods would change) was not among what landed."""
    with recording_proxy() as proxy:
        backend = through(proxy, clusters)
        proxy.intercept = lambda method, url: (0 if method == "PATCH" and "dryRun" not in url
                                               and "/poddisruptionbudgets/" in url else None)
        with pytest.raises(ClusterError) as cut:
            backend.apply(make_spec("cut"))
        assert ("the change is incomplete on cluster kind-kanri: applied Service kanri/cut-a; not applied: "
                "PodDisruptionBudget kanri/cut-a, Deployment kanri/cut-a; run the same command again to finish it"
                ) in str(cut.value)
        assert find(clusters, "services", "cut-a") and not find(clusters, "deployments", "cut-a", "apps")
        proxy.intercept = lambda method, url: None
        backend.apply(make_spec("cut"))
    converge(clusters.backend(), "cut")


def test_a_conflict_is_retried_with_backoff_then_reported_clearly(clusters: FakeClusters) -> None:
    """A 409 (someone wrote the object as kanri did) is tried again after a pause; one that never clears says
    who to look for instead of hanging or overwriting."""
    with recording_proxy() as proxy:
        backend = through(proxy, clusters)
        conflicts = iter([409, 409])
        proxy.intercept = lambda method, url: (next(conflicts, None) if method == "PATCH" and "dryRun" not in url
                                               and "/deployments/" in url else None)
        started = time.monotonic()
        backend.apply(make_spec("conflict"))
        assert time.monotonic() - started >= 0.4, "two pauses: 0.1 s, then 0.3 s"
        assert find(clusters, "deployments", "conflict-a", "apps")
        proxy.intercept = lambda method, url: 409 if method == "PATCH" and "/deployments/" in url else None
        with pytest.raises(ClusterError, match=r"Deployment kanri/conflict-a kept changing while kanri wrote it "
                                               r"\(5 attempts over 4.4 s\); another controller or person"):
            backend.apply(make_spec("conflict", replicas=2))
