"""Clusters of different versions: what kanri writes for each, and what it says when an API is not served."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from kanri.console.cluster.base import ClusterError, ModelRef, RouteSpec, ServiceSpec
from kanri.console.cluster.kubernetes import Capabilities, render_service_yaml
from kanri.console.cluster.kubernetes.versions import KIND_APIS, istio_kind, parse_version, server_version
from tests.support.kube import fake_clusters

SPEC = ServiceSpec(app="digits", name="main", level="production", predictor="predictor.py:Digits",
                   model=ModelRef(1, "s3://models/v1", "1" * 64), model_store="s3://models", autoscale=True,
                   min_replicas=2, max_replicas=4, cpu_threshold=70)


def rendered(capabilities: Capabilities) -> dict[str, dict]:
    return {o["kind"]: o for o in yaml.safe_load_all(render_service_yaml(SPEC, None, "kanri", None, capabilities))}


@pytest.mark.parametrize(("version", "hpa", "pdb"), [
    ((1, 20), "autoscaling/v2beta2", "policy/v1beta1"),
    ((1, 22), "autoscaling/v2beta2", "policy/v1"),
    ((1, 23), "autoscaling/v2", "policy/v1"),
    ((1, 31), "autoscaling/v2", "policy/v1"),
])
def test_the_newest_api_each_version_serves_is_written(version: tuple[int, int], hpa: str, pdb: str) -> None:
    objects = rendered(Capabilities(version))
    assert (objects["HorizontalPodAutoscaler"]["apiVersion"], objects["PodDisruptionBudget"]["apiVersion"]) == (hpa,
                                                                                                                  pdb)


def test_probes_are_grpc_from_1_24_and_the_runtimes_http_health_before() -> None:
    for version, handler in (((1, 23), "httpGet"), ((1, 24), "grpc")):
        [container] = rendered(Capabilities(version))["Deployment"]["spec"]["template"]["spec"]["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert handler in container[probe], (version, probe)
    [old] = rendered(Capabilities((1, 20)))["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert (old["readinessProbe"]["httpGet"], old["livenessProbe"]["httpGet"]) == (
        {"path": "/v2/health/ready", "port": "http"}, {"path": "/v2/health/live", "port": "http"})


def test_levels_keep_apart_across_namespaces_only_where_namespace_selector_is_served() -> None:
    for version, across in (((1, 21), False), ((1, 22), True)):
        term = rendered(Capabilities(version))["Deployment"]["spec"]["template"]["spec"]["affinity"][
            "podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert ("namespaceSelector" in term) is across


def test_a_kind_served_in_no_known_version_names_the_missing_api_and_where_it_is_served() -> None:
    only_v1 = Capabilities((1, 26), frozenset({"v1", "apps/v1", "policy/v1", "autoscaling/v1"}))
    with pytest.raises(ClusterError) as refused:
        only_v1.require(KIND_APIS["HorizontalPodAutoscaler"], "east")
    assert str(refused.value) == (
        "cluster east (Kubernetes 1.26) serves no API kanri can write HorizontalPodAutoscalers in: it needs "
        "autoscaling/v2 (Kubernetes 1.23 and later) or autoscaling/v2beta2 (Kubernetes 1.12 to 1.25); use a "
        "cluster of a version that serves one")
    with pytest.raises(ClusterError, match=r"networking.istio.io/v1beta1 .Istio 1.5 and later.; install Istio"):
        only_v1.require(istio_kind("VirtualService", "networking.istio.io/v1beta1"), "east")


@pytest.mark.parametrize(("answer", "expected"), [
    ({"major": "1", "minor": "20", "gitVersion": "v1.20.2"}, (1, 20)),
    ({"major": "1", "minor": "27+", "gitVersion": "v1.27.8-eks-8cb36c9"}, (1, 27)),
    ({"major": "", "minor": "", "gitVersion": "v1.29.1"}, (1, 29)),
])
def test_server_versions_are_read_as_managed_clusters_write_them(answer: dict, expected: tuple[int, int]) -> None:
    assert server_version(answer) == expected


def test_a_version_that_is_not_one_is_refused() -> None:
    assert parse_version("v1.20.2") == (1, 20)
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        parse_version("twenty")


def test_on_a_1_20_cluster_kanri_writes_and_removes_what_that_version_serves(tmp_path: Path) -> None:
    """autoscaling/v2beta2 and policy/v1beta1 written, read back and deleted; an HPA turned off is really gone
    (not a 404 of an unserved API taken for 'already deleted')."""
    spec = dataclasses.replace(SPEC, model_store="s3://models")
    with fake_clusters(tmp_path, kubernetes_version="1.20") as clusters:
        backend = clusters.backend()
        backend.apply(spec)
        assert list(backend.rollout("digits", "main", timeout=10))[-1].converged
        [hpa] = clusters.objects("horizontalpodautoscalers", "autoscaling")
        [pdb] = clusters.objects("poddisruptionbudgets", "policy")
        assert (hpa["apiVersion"], pdb["apiVersion"]) == ("autoscaling/v2beta2", "policy/v1beta1")
        [actual] = backend.actual_state().services
        assert (actual.autoscale, actual.min_replicas, actual.max_replicas) == (True, 2, 4)
        backend.apply(dataclasses.replace(spec, autoscale=False, replicas=2))
        assert clusters.objects("horizontalpodautoscalers", "autoscaling") == []
        [deployment] = clusters.objects("deployments", "apps")
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert "httpGet" in container["readinessProbe"], "1.20 has no gRPC probes: the runtime's HTTP health"


def test_without_istio_routes_name_the_missing_api_and_services_still_work(tmp_path: Path) -> None:
    with fake_clusters(tmp_path, istio=False) as clusters:
        backend = clusters.backend()
        backend.apply(dataclasses.replace(SPEC, autoscale=False))
        with pytest.raises(ClusterError) as refused:
            backend.set_route(RouteSpec("digits", "production", {"main": 100}))
        assert "serves no API kanri can write DestinationRules in: it needs networking.istio.io/v1beta1" in \
            str(refused.value) and "install Istio" in str(refused.value)
        assert [s.name for s in backend.actual_state().services] == ["main"] and backend.actual_state().routes == []
        backend.delete("digits", "main")
        assert clusters.objects("deployments", "apps") == []
