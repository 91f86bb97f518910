"""Services that scale on their calls on Kubernetes: a KEDA ScaledObject in the HPA's place (scaling.py).

What kanri renders; the change between the two autoscalers, the read back and the missing-KEDA error on the
fake API server (with and without KEDA's CRD); sync through the CLI; the queries against a real Prometheus
scraping real runtime metrics through kanri's scrape job; the object as the real API server (1.20.2, KEDA's CRD
from manifests/schemas registered) takes it. No KEDA operator runs here: where a test needs what KEDA does (the
HPA it makes, its conditions), it writes that as KEDA would.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from prometheus_client import CollectorRegistry, Counter, start_http_server

from kanri.console.cluster.base import ClusterError, ModelRef, ServiceSpec
from kanri.console.cluster.kubernetes import KubernetesBackend, ObjectOptions, render_service_yaml
from kanri.console.cluster.kubernetes.scaling import calls_query, wake_query
from kanri.serving.metrics import RuntimeMetrics
from tests.fakes.kubernetes_api import FakeKubernetes
from tests.support.backends import real_backend
from tests.support.cli import kanri_in
from tests.support.kube import FAST_OPTIONS, NAMESPACE, FakeClusters, fake_clusters
from tests.support.manifests import MANIFESTS
from tests.support.prometheus import Prometheus, wait_until
from tests.support.real_kubernetes.cluster import RealKubernetes
from tests.support.servers import free_port

KEDA = "keda.sh"
PROMETHEUS = "http://prometheus-operated.monitoring.svc.cluster.local:9090"
OPTIONS = dataclasses.replace(FAST_OPTIONS, prometheus_url=PROMETHEUS)
MODEL = ModelRef(1, "s3://models/digits/v1.skops", "1" * 64)


def make_spec(app: str, **changes: object) -> ServiceSpec:
    spec = ServiceSpec(app=app, name="main", level="production", predictor="predictor.py:Digits", model=MODEL,
                       model_store="s3://models")
    return dataclasses.replace(spec, **changes)


def on_calls(app: str, metric: str = "concurrency", target: float = 3.0, low: int = 0, high: int = 5,
             idle: float = 60.0, **changes: object) -> ServiceSpec:
    return make_spec(app, autoscale=True, min_replicas=low, max_replicas=high, scale_metric=metric,
                     scale_target=target, scale_to_zero_after=idle if low == 0 else 0.0, **changes)


def rendered(spec: ServiceSpec, options: ObjectOptions = OPTIONS, namespace: str = NAMESPACE) -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(render_service_yaml(spec, None, namespace, options))}


# What kanri renders.

RUNTIME = 'app="digits", service="main", namespace="kanri", service_level="production"'


@pytest.mark.parametrize(("metric", "target", "query", "threshold"), [
    ("concurrency", 4.0, f"sum(kanri_requests_in_flight{{{RUNTIME}}})", "4"),
    ("rps", 2.5, f'sum(rate(kanri_requests_total{{{RUNTIME}, method=~"(HTTP )?(Predict|PredictStream|ModelInfer)"}}'
                 '[1m]))', "2.5"),
])
def test_a_service_on_calls_gets_a_scaled_object_in_the_hpas_place(metric: str, target: float, query: str,
                                                                    threshold: str) -> None:
    objects = rendered(on_calls("digits", metric, target, low=2, high=6))
    assert list(objects) == ["Deployment", "Service", "PodDisruptionBudget", "ScaledObject"]
    scaled = objects["ScaledObject"]
    assert (scaled["apiVersion"], scaled["metadata"]["name"]) == ("keda.sh/v1alpha1", "digits-main")
    assert scaled["metadata"]["labels"] == objects["Deployment"]["metadata"]["labels"]
    assert scaled["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "digits-main"},
        "minReplicaCount": 2, "maxReplicaCount": 6, "cooldownPeriod": 0,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}},
        "triggers": [{"type": "prometheus", "metricType": "AverageValue",
                      "metadata": {"serverAddress": PROMETHEUS, "query": query, "threshold": threshold}}]}
    assert "replicas" not in objects["Deployment"]["spec"], "the replicas are KEDA's to set"


def test_a_service_that_may_go_to_zero_is_woken_by_the_calls_its_callers_proxies_count() -> None:
    scaled = rendered(on_calls("digits", "rps", 40.0, low=0, high=8, idle=120.0))["ScaledObject"]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"], scaled["cooldownPeriod"]) == (0, 8, 120)
    calls, wake = scaled["triggers"]
    assert calls["metadata"]["threshold"] == "40"
    assert wake == {"type": "prometheus", "metricType": "AverageValue", "metadata": {
        "serverAddress": PROMETHEUS, "threshold": "1000000000",
        "query": 'sum(rate(istio_requests_total{reporter="source", destination_service_name="digits-production", '
                 'destination_service_namespace="kanri"}[1m]))'}}


def test_a_service_on_cpu_keeps_its_hpa_and_gets_no_scaled_object() -> None:
    objects = rendered(make_spec("digits", autoscale=True, min_replicas=2, max_replicas=6, cpu_threshold=70))
    assert list(objects) == ["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"]
    # KEDA's admission webhook checks a ScaledObject against the other HPAs of its Deployment, dry runs too: a
    # change to calls checks the ScaledObject while this HPA, which the same change deletes, is still there.
    hpa = objects["HorizontalPodAutoscaler"]
    assert hpa["metadata"]["annotations"] == {"validations.keda.sh/hpa-ownership": "false"}
    assert list(rendered(make_spec("digits", replicas=2))) == ["Deployment", "Service", "PodDisruptionBudget"]


@pytest.mark.parametrize(("spec", "options", "expected"), [
    (on_calls("digits"), FAST_OPTIONS, "which KEDA reads from Prometheus: set prometheus_url (KANRI_PROMETHEUS_URL)"),
    (on_calls("digits", idle=1.5), OPTIONS, "KEDA counts whole seconds, so give --scale-to-zero-after in whole"),
    (on_calls("d" * 50), OPTIONS, "longer than the 63 characters its admission webhook allows: name the application "
                                  "and service in at most 54 characters together"),
])
def test_what_keda_cannot_be_given_is_refused_at_render_and_before_any_write(
        spec: ServiceSpec, options: ObjectOptions, expected: str, tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=re.escape(expected)):
        rendered(spec, options)
    with fake_clusters(tmp_path, keda=True) as clusters:
        with pytest.raises(ClusterError, match=re.escape(expected)):
            clusters.backend(options=options).apply(spec)
        assert clusters.objects("deployments", "apps") == []


# The fake API server, with KEDA's CRD: the objects kanri writes and reads back.

def test_the_fake_serves_keda_only_where_keda_is_installed() -> None:
    for keda in (False, True):
        fake = FakeKubernetes(keda=keda).start()
        try:
            configuration = client.Configuration()
            configuration.host = fake.url
            with client.ApiClient(configuration) as api:
                groups = {g.name: [v.version for v in g.versions]
                          for g in client.ApisApi(api).get_api_versions().groups}
                listing = client.CustomObjectsApi(api).list_namespaced_custom_object
                if keda:
                    assert groups[KEDA] == ["v1alpha1"]
                    assert listing(KEDA, "v1alpha1", NAMESPACE, "scaledobjects")["items"] == []
                else:
                    assert KEDA not in groups and "networking.istio.io" in groups
                    with pytest.raises(client.ApiException) as refused:
                        listing(KEDA, "v1alpha1", NAMESPACE, "scaledobjects")
                    assert refused.value.status == 404
        finally:
            fake.stop()


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeClusters]:
    with fake_clusters(tmp_path_factory.mktemp("kube"), keda=True) as clusters:
        yield clusters


@pytest.fixture(scope="module")
def backend(clusters: FakeClusters) -> KubernetesBackend:
    return clusters.backend(options=OPTIONS)


@pytest.fixture(scope="module")
def api(clusters: FakeClusters) -> client.ApiClient:
    """The official client on the fake, for what others write: the HPA and KEDA, someone with kubectl."""
    configuration = client.Configuration()
    configuration.host = next(iter(clusters.fakes.values())).url
    return client.ApiClient(configuration)


def live(clusters: FakeClusters, app: str) -> tuple[dict | None, dict | None, int]:
    """The service's HPA and ScaledObject (None where it has none), and its Deployment's replicas."""
    def named(plural: str, group: str) -> dict | None:
        return next((o for o in clusters.objects(plural, group) if o["metadata"]["name"] == f"{app}-main"), None)

    deployment = named("deployments", "apps")
    assert deployment is not None
    return (named("horizontalpodautoscalers", "autoscaling"), named("scaledobjects", KEDA),
            deployment["spec"]["replicas"])


def scale_by_hand(api: client.ApiClient, app: str, replicas: int) -> None:
    """As the HPA or KEDA does: the Deployment's replicas."""
    client.AppsV1Api(api).patch_namespaced_deployment(f"{app}-main", NAMESPACE, {"spec": {"replicas": replicas}})


def test_changing_the_metric_replaces_the_autoscaler_and_keeps_the_replicas(
        backend: KubernetesBackend, clusters: FakeClusters, api: client.ApiClient) -> None:
    backend.apply(make_spec("switch", autoscale=True, min_replicas=2, max_replicas=6, cpu_threshold=70))
    hpa, scaled, replicas = live(clusters, "switch")
    assert hpa is not None and scaled is None and replicas == 2
    scale_by_hand(api, "switch", 4)

    backend.apply(on_calls("switch", low=0, high=6))
    hpa, scaled, replicas = live(clusters, "switch")
    assert hpa is None and scaled is not None and replicas == 4, "KEDA takes over from where the HPA left it"
    assert len(scaled["spec"]["triggers"]) == 2
    scale_by_hand(api, "switch", 0)  # KEDA took it to zero

    backend.apply(make_spec("switch", autoscale=True, min_replicas=2, max_replicas=6, cpu_threshold=70))
    hpa, scaled, replicas = live(clusters, "switch")
    assert hpa is not None and scaled is None
    assert replicas == 2, "an HPA does not scale up a Deployment at zero: kanri puts it at the minimum"

    backend.apply(on_calls("switch", "rps", 20.0, low=1, high=6))
    backend.apply(make_spec("switch", replicas=3, min_replicas=3, max_replicas=3))
    assert live(clusters, "switch") == (None, None, 3)


def test_a_scaled_object_kanri_did_not_make_is_left_alone_by_a_service_on_cpu_and_its_deletion(
        backend: KubernetesBackend, clusters: FakeClusters, api: client.ApiClient) -> None:
    theirs = {"apiVersion": f"{KEDA}/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "mine-main"},
              "spec": {"scaleTargetRef": {"name": "elsewhere"}, "triggers": [{"type": "cron", "metadata": {}}]}}
    client.CustomObjectsApi(api).create_namespaced_custom_object(KEDA, "v1alpha1", NAMESPACE, "scaledobjects", theirs)
    backend.apply(make_spec("mine", autoscale=True, min_replicas=1, max_replicas=3, cpu_threshold=70))
    hpa, scaled, _ = live(clusters, "mine")
    assert hpa is not None and scaled is not None and scaled["spec"]["scaleTargetRef"] == {"name": "elsewhere"}
    backend.delete("mine", "main")
    left = {(o["kind"], o["metadata"]["name"]) for plural, group in [("deployments", "apps"), ("scaledobjects", KEDA),
                                                                     ("horizontalpodautoscalers", "autoscaling")]
            for o in clusters.objects(plural, group) if o["metadata"]["name"] == "mine-main"}
    assert left == {("ScaledObject", "mine-main")}, "kanri's Deployment and HPA go; their ScaledObject stays"


def test_a_new_service_that_may_go_to_zero_starts_with_one_replica(backend: KubernetesBackend,
                                                                  clusters: FakeClusters) -> None:
    backend.apply(on_calls("fresh", low=0))
    events = list(backend.rollout("fresh", "main", timeout=10))
    assert events[-1].converged and (events[-1].desired, events[-1].available) == (1, 1)
    _, scaled, replicas = live(clusters, "fresh")
    assert scaled is not None and scaled["spec"]["minReplicaCount"] == 0 and replicas == 1


def keda_made_its_hpa(clusters: FakeClusters, api: client.ApiClient, app: str, status: dict) -> None:
    """The HPA KEDA makes from a ScaledObject: named keda-hpa-NAME, with the ScaledObject's labels."""
    [scaled] = [o for o in clusters.objects("scaledobjects", KEDA) if o["metadata"]["name"] == f"{app}-main"]
    name = f"keda-hpa-{app}-main"
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": name, "labels": scaled["metadata"]["labels"]},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{app}-main"},
                    "minReplicas": 1, "maxReplicas": scaled["spec"]["maxReplicaCount"], "metrics": [
                        {"type": "External", "external": {"metric": {"name": "s0-prometheus"},
                                                          "target": {"type": "AverageValue", "averageValue": "3"}}}]}}
    client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(NAMESPACE, hpa)
    fake = next(iter(clusters.fakes.values()))
    fake.set_status("horizontalpodautoscalers", NAMESPACE, name, status, "autoscaling")


def condition(kind: str, status: str, message: str) -> dict:
    return {"type": kind, "status": status, "reason": kind, "message": message}


def test_actual_state_reads_the_scaling_back_and_status_says_why_in_keda_and_the_hpas_words(
        backend: KubernetesBackend, clusters: FakeClusters, api: client.ApiClient) -> None:
    fake = next(iter(clusters.fakes.values()))

    def read(app: str) -> tuple[object, ...]:
        [found] = [s for s in backend.actual_state().services if s.app == app]
        return (found.autoscale, found.scale_metric, found.scale_target, found.min_replicas, found.max_replicas,
                found.scale_to_zero_after, backend.status(app, "main").scale_reason)

    backend.apply(on_calls("told", "rps", 12.5, low=0, high=5, idle=90.0))
    assert read("told") == (True, "rps", 12.5, 0, 5, 90.0, ""), "nothing said yet"
    computing = "the HPA was able to successfully calculate a replica count from external metric s0-prometheus"
    keda_made_its_hpa(clusters, api, "told", {"currentReplicas": 1, "desiredReplicas": 3, "conditions": [
        condition("AbleToScale", "True", "recommended size matches current size"),
        condition("ScalingActive", "True", computing)]})
    assert read("told")[-1] == computing

    idle = "Scaling is not performed because triggers are not active"
    fake.set_status("scaledobjects", NAMESPACE, "told-main", {"conditions": [
        condition("Ready", "True", "ScaledObject is defined correctly and is ready for scaling"),
        condition("Active", "False", idle)]}, KEDA)
    assert read("told")[-1] == idle, "KEDA takes a service without calls to zero"
    broken = "Triggers defined in ScaledObject are not working correctly"
    fake.set_status("scaledobjects", NAMESPACE, "told-main", {"conditions": [condition("Ready", "False", broken)]},
                    KEDA)
    assert read("told")[-1] == broken

    backend.apply(make_spec("cpu", autoscale=True, min_replicas=2, max_replicas=6, cpu_threshold=70))
    assert read("cpu") == (True, "cpu", 0.0, 2, 6, 0.0, "")
    no_metrics = "the HPA was unable to compute the replica count: unable to get metrics for resource cpu"
    fake.set_status("horizontalpodautoscalers", NAMESPACE, "cpu-main", {"desiredReplicas": 2, "conditions": [
        condition("ScalingActive", "False", no_metrics)]}, "autoscaling")
    assert read("cpu")[-1] == no_metrics


def test_a_cluster_without_keda_refuses_a_service_on_calls_and_says_how_to_install_it(tmp_path: Path) -> None:
    with fake_clusters(tmp_path, keda=False) as clusters:
        backend = clusters.backend(options=OPTIONS)
        with pytest.raises(ClusterError) as refused:
            backend.apply(on_calls("digits"))
        message = str(refused.value)
        assert "serves no API kanri can write ScaledObjects in: it needs keda.sh/v1alpha1" in message
        assert "install KEDA on this cluster (helm install keda kedacore/keda --namespace keda" in message
        assert "(nothing was changed on any cluster)" in message
        assert clusters.objects("deployments", "apps") == []
        backend.apply(make_spec("digits", autoscale=True, min_replicas=2, max_replicas=4))  # CPU needs no KEDA
        [service] = backend.actual_state().services
        assert (service.autoscale, service.scale_metric) == (True, "cpu")
        with pytest.raises(ClusterError, match=r"install KEDA.*\(nothing was changed on any cluster\)"):
            backend.apply(on_calls("digits"))  # a change of metric: the HPA goes first, but only where KEDA is
        [hpa] = clusters.objects("horizontalpodautoscalers", "autoscaling")
        assert hpa["metadata"]["name"] == "digits-main", "the service keeps the autoscaler it had"


# Sync, through the CLI: no drift right after an apply, and a ScaledObject edited out of band is drift.

def test_sync_sees_no_drift_after_autoscale_and_sees_an_edited_scaled_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_models: dict) -> None:
    with fake_clusters(tmp_path, keda=True) as clusters:
        kanri = kanri_in(monkeypatch, {"KANRI_HOME": str(tmp_path / "home"), "KANRI_CLUSTER": "kubernetes",
                                       "KUBECONFIG": str(clusters.kubeconfig), "KANRI_PROMETHEUS_URL": PROMETHEUS,
                                       "XDG_CONFIG_HOME": str(tmp_path / "config")},
                         unset=("KANRI_KUBERNETES_CONTEXTS", "KANRI_CONFIG"))

        def drift() -> dict[str, tuple[object, object]]:
            return {d["field"]: (d["desired"], d["actual"]) for d in json.loads(kanri("sync", "--json"))["drift"]}

        kanri("app", "create", "echo", "--predictor", "tests.support.predictors:Echo")
        kanri("model", "upload", "echo", str(echo_models["v1"]))
        kanri("service", "create", "echo", "main", "--level", "production", "--model", "1", "--timeout", "30")
        kanri("autoscale", "echo", "main", "--min", "0", "--max", "4", "--concurrency", "3",
              "--scale-to-zero-after", "2m")
        assert drift() == {}

        custom = client.CustomObjectsApi(_client(clusters))
        scaled = custom.get_namespaced_custom_object(KEDA, "v1alpha1", NAMESPACE, "scaledobjects", "echo-main")
        calls = scaled["spec"]["triggers"][0]
        calls["metadata"] |= {"threshold": "10"}
        wake = scaled["spec"]["triggers"][1:]
        custom.patch_namespaced_custom_object(KEDA, "v1alpha1", NAMESPACE, "scaledobjects", "echo-main", {
            "spec": {"maxReplicaCount": 9, "cooldownPeriod": 30, "triggers": [calls, *wake]}})
        assert drift() == {"max_replicas": (4, 9), "scale_to_zero_after": (120.0, 30.0), "scale_target": (3.0, 10.0)}

        calls["metadata"] |= {"query": "sum(up)", "threshold": "3"}
        custom.patch_namespaced_custom_object(KEDA, "v1alpha1", NAMESPACE, "scaledobjects", "echo-main", {
            "spec": {"triggers": [calls, *wake]}})
        assert drift()["scale_metric"] == ("concurrency", "query 'sum(up)'")

        kanri("sync", "--fix")
        assert drift() == {}

        fixed = custom.get_namespaced_custom_object(KEDA, "v1alpha1", NAMESPACE, "scaledobjects", "echo-main")
        calls, wake = fixed["spec"]["triggers"]
        custom.patch_namespaced_custom_object(KEDA, "v1alpha1", NAMESPACE, "scaledobjects", "echo-main", {
            "spec": {"triggers": [calls]}})
        assert drift() == {"wakes_from_zero": (True, False)}, "without its waking trigger it stays at zero"
        wake["metadata"] |= {"threshold": "5"}
        custom.patch_namespaced_custom_object(KEDA, "v1alpha1", NAMESPACE, "scaledobjects", "echo-main", {
            "spec": {"triggers": [calls, wake]}})
        assert drift() == {"wakes_from_zero": (True, False)}, "an edited one is not kanri's either"
        kanri("sync", "--fix")
        assert drift() == {}


def _client(clusters: FakeClusters) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = next(iter(clusters.fakes.values())).url
    return client.ApiClient(configuration)


# The queries, against a real Prometheus scraping real runtime metrics through kanri's scrape job.

@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[tuple[Callable[[str], float | None], dict[str, RuntimeMetrics], Counter]]:
    """(query → its one value, or None for no series; the runtimes' metrics by pod; Istio's request counter).
    Pods of digits/main at production in namespace kanri, and what must not be taken for them: another service
    of the level, the same service in another namespace, and a service whose only calls are the kubelet's."""
    pods = {"main-1": ("main", "kanri"), "main-2": ("main", "kanri"), "other-1": ("other", "kanri"),
            "elsewhere-1": ("main", "elsewhere"), "probed-1": ("probed", "kanri")}
    metrics, discovered, exporters = {}, [], []
    for pod, (service, namespace) in pods.items():
        registry = CollectorRegistry()
        metrics[pod] = RuntimeMetrics(registry, "digits", service, "production")
        server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
        exporters.append(server)
        address = f"127.0.0.1:{server.server_address[1]}"
        discovered.append({"targets": [address], "labels": {  # what Kubernetes' pod discovery would hand the job
            "__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": f"digits-{pod}",
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
            "__meta_kubernetes_pod_annotation_prometheus_io_port": address.split(":")[1],
            "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics"}})
    istio_registry = CollectorRegistry()
    istio = Counter("istio_requests", "Requests, as an Istio proxy counts them.",
                    ["reporter", "destination_service_name", "destination_service_namespace", "destination_workload",
                     "response_code", "response_flags"], registry=istio_registry)
    config = yaml.safe_load((MANIFESTS / "observability" / "prometheus" / "kanri-scrape-configs.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "kanri-runtime"]
    (tmp_path / "runtime.json").write_text(json.dumps(discovered))
    job.pop("kubernetes_sd_configs")
    job["file_sd_configs"] = [{"files": [str(tmp_path / "runtime.json")]}]
    proxy, _ = start_http_server(0, addr="127.0.0.1", registry=istio_registry)
    exporters.append(proxy)
    proxies = {"job_name": "istio-proxies", "honor_labels": True,
               "static_configs": [{"targets": [f"127.0.0.1:{proxy.server_address[1]}"]}]}
    every_second = {"scrape_interval": "1s", "scrape_timeout": "1s"}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({"global": every_second, "scrape_configs": [job, proxies]}))
    prometheus = Prometheus(tmp_path, free_port())
    prometheus.restart()

    def value(query: str) -> float | None:
        url = f"{prometheus.url}/api/v1/query?query={urllib.parse.quote(query)}"
        result = json.loads(urllib.request.urlopen(url, timeout=2).read())["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    try:
        wait_until(lambda: value('count(up{job="kanri-runtime"} == 1)') == len(pods), 20, "every runtime scraped")
        yield value, metrics, istio
    finally:
        prometheus.stop()
        for exporter in exporters:
            exporter.shutdown()


def test_the_queries_take_exactly_this_services_calls_at_this_level_in_this_namespace(
        scraped: tuple[Callable[[str], float | None], dict[str, RuntimeMetrics], Counter]) -> None:
    value, metrics, istio = scraped
    for pod, in_flight in {"main-1": 2, "main-2": 4, "other-1": 7, "elsewhere-1": 50}.items():
        for _ in range(in_flight):
            metrics[pod].in_flight.inc()
    assert wait_until(lambda: value(calls_query("concurrency", "digits", "main", "production", "kanri")) == 6, 20,
                      "the in-flight calls of digits/main's two pods, summed")

    stop = threading.Event()

    def calls() -> None:  # predictions and probes on main-1, only the kubelet's probes on probed-1
        while not stop.wait(0.05):
            metrics["main-1"].observe("1", "HTTP Predict", "OK", 0.01)
            for pod in ("main-1", "probed-1"):
                metrics[pod].observe("1", "HTTP ServerReady", "OK", 0.001)
            istio.labels("source", "digits-production", "kanri", "unknown", "503", "UH").inc()

    caller = threading.Thread(target=calls)
    caller.start()
    try:
        wait_until(lambda: (value(calls_query("rps", "digits", "main", "production", "kanri")) or 0) > 0, 20,
                   "digits/main's predictions per second")
        # Each pod is a target of its own, scraped on its own cycle: its rate needs two scrapes of it.
        wait_until(lambda: (value('sum(rate(kanri_requests_total{service="probed"}[1m]))') or 0) > 0, 20,
                   "the probed pod's probes")
        assert value(calls_query("rps", "digits", "probed", "production", "kanri")) is None, "probes are no calls"
        wait_until(lambda: (value(wake_query("digits", "production", "kanri")) or 0) > 0, 20,
                   "calls to the level no pod answered, as the ingress gateway counts them")
        assert value(wake_query("digits", "staging", "kanri")) is None
        assert value(wake_query("digits", "production", "elsewhere")) is None
    finally:
        stop.set()
        caller.join()


# The real API server, with KEDA's CRD as manifests/schemas has it.

def test_the_real_api_server_takes_the_scaled_object_and_kanri_reads_it_back(real_kubernetes: RealKubernetes) -> None:
    backend = real_backend(real_kubernetes, "keda-scaling", prometheus_url=PROMETHEUS)
    namespace = backend.namespace
    spec = on_calls("digits", "rps", 2.5, low=0, high=6, idle=45.0)
    backend.apply(spec)  # a server-side dry run of every object, then the writes
    with real_kubernetes.api_client() as api:
        custom = client.CustomObjectsApi(api)
        stored = custom.get_namespaced_custom_object(KEDA, "v1alpha1", namespace, "scaledobjects", "digits-main")
        assert stored["spec"] == rendered(spec, namespace=namespace)["ScaledObject"]["spec"], "nothing pruned"
        [service] = backend.actual_state().services
        assert (service.scale_metric, service.scale_target, service.min_replicas, service.max_replicas,
                service.scale_to_zero_after) == ("rps", 2.5, 0, 6, 45.0)

        wrong = json.loads(json.dumps(stored))
        wrong["spec"]["triggers"][0]["metadata"]["threshold"] = 4  # a number where KEDA wants a string
        wrong["metadata"] = {"name": "digits-wrong"}
        with pytest.raises(client.ApiException) as refused:
            custom.create_namespaced_custom_object(KEDA, "v1alpha1", namespace, "scaledobjects", wrong)
        assert refused.value.status == 422 and "threshold" in refused.value.body

        backend.apply(make_spec("digits", autoscale=True, min_replicas=1, max_replicas=6, cpu_threshold=70))
        assert custom.list_namespaced_custom_object(KEDA, "v1alpha1", namespace, "scaledobjects")["items"] == []
        found = wait_until(lambda: backend.status("digits", "main").scale_reason, 60,
                           "the real HPA controller's word on the CPU HPA")
    assert "unable to" in found, "no metrics API runs here: the HPA says it cannot compute"
