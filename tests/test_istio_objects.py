"""Istio's side of kanri's objects, as rendered: each route's mesh VirtualService owns its level's host, and
with an ingress gateway a second VirtualService per route shares the ingress host on the gateway only
(istioctl analyze reports IST0109 when mesh-bound VirtualServices share a host; Istio merges gateway-bound
ones); the sidecar starts before the runtime and leaves after it; the init container gets past the proxy.
"""

from __future__ import annotations

import dataclasses

import yaml

from kanri.console.cluster.base import ModelRef, RouteSpec, ServiceSpec
from kanri.console.cluster.kubernetes import ObjectOptions, labels, objects, pod, render_service_yaml
from kanri.console.cluster.kubernetes.routing import route_objects
from tests.support.manifests import problems

NAMESPACE = "kanri"
LEVELS = ("development", "staging", "production")
GATEWAY = ObjectOptions(gateway="istio-system/kanri", ingress_host="models.example.com")
SPEC = ServiceSpec(app="digits", name="main", level="production", predictor="digits.predictor:Digits",
                   model=ModelRef(1, "s3://m/sha256/ab.skops", "ab"), model_store="s3://m")


def _route(app: str, level: str) -> RouteSpec:
    return RouteSpec(app, level, {"main": 90, "canary": 10}, mirror="shadow", mirror_percent=5)


def _virtual_services(route: RouteSpec, options: ObjectOptions) -> list[dict]:
    return [o for o in route_objects(route, NAMESPACE, options) if o["kind"] == "VirtualService"]


def test_only_gateway_bound_virtual_services_share_a_host() -> None:
    found = [vs for app in ("digits", "iris") for level in LEVELS for vs in _virtual_services(_route(app, level),
                                                                                              GATEWAY)]
    assert [p for vs in found for p in problems(vs)] == []
    assert len({vs["metadata"]["name"] for vs in found}) == len(found) == 12
    in_mesh = [host for vs in found if "mesh" in vs["spec"].get("gateways", ["mesh"]) for host in vs["spec"]["hosts"]]
    assert len(in_mesh) == len(set(in_mesh)) == 6
    on_gateway = [vs for vs in found if "mesh" not in vs["spec"].get("gateways", ["mesh"])]
    assert {(*vs["spec"]["hosts"], *vs["spec"]["gateways"]) for vs in on_gateway} == {
        ("models.example.com", "istio-system/kanri")}
    matches = [str(vs["spec"]["http"][0]["match"]) for vs in on_gateway]
    assert len(set(matches)) == len(matches) == 6, "each route answers its own x-kanri-* headers"


def test_the_gateway_route_repeats_the_mesh_split_behind_the_header_match() -> None:
    mesh, ingress = _virtual_services(_route("digits", "production"), GATEWAY)
    assert mesh["metadata"]["name"] == "digits-production" and mesh["spec"]["gateways"] == ["mesh"]
    assert mesh["spec"]["hosts"] == ["digits-production.kanri.svc.cluster.local"]
    assert ingress["metadata"]["name"] == "digits-production-ingress"
    assert ingress["metadata"]["labels"] == mesh["metadata"]["labels"] | {labels.INGRESS_ROUTE: "true"}
    [split] = mesh["spec"]["http"]
    grpc, http = ingress["spec"]["http"]
    headers = {"x-kanri-app": {"exact": "digits"}, "x-kanri-service-level": {"exact": "production"}}
    assert grpc.pop("match") == [{"headers": headers | {"content-type": {"prefix": "application/grpc"}}}]
    assert http.pop("match") == [{"headers": headers}]
    for route, port in ((grpc, 50051), (http, 8080)):  # from the gateway's port to the runtime's, by protocol
        for destination in [d["destination"] for d in route.pop("route")] + [route.pop("mirror")]:
            assert destination.pop("port") == {"number": port}
    assert {k: v for k, v in split.items() if k not in ("name", "route", "mirror")} == \
        {k: v for k, v in grpc.items() if k != "name"} == {k: v for k, v in http.items() if k != "name"}
    assert all(d["destination"].keys() == {"host", "subset"} for d in split["route"]), \
        "in the mesh a call goes on to the port it came to"
    assert split["mirrorPercentage"] == {"value": 5.0}


def test_without_both_a_gateway_and_an_ingress_host_a_route_has_one_virtual_service() -> None:
    for options in (ObjectOptions(), dataclasses.replace(GATEWAY, ingress_host=""),
                    dataclasses.replace(GATEWAY, gateway="")):
        kinds = [o["kind"] for o in route_objects(_route("digits", "staging"), NAMESPACE, options)]
        assert kinds == ["Service", "DestinationRule", "VirtualService"]


def _deployment() -> dict:
    return next(yaml.safe_load_all(render_service_yaml(SPEC, None, NAMESPACE, GATEWAY)))


def test_the_proxy_starts_before_the_runtime_and_leaves_after_it() -> None:
    deployment = _deployment()
    template = deployment["spec"]["template"]
    config = yaml.safe_load(template["metadata"]["annotations"]["proxy.istio.io/config"])
    assert config["holdApplicationUntilProxyStarts"] is True
    drain = int(config["terminationDrainDuration"].removesuffix("s"))
    runtime_stops = objects.DRAIN_SECONDS + objects.GRACE_SECONDS
    assert runtime_stops < drain < template["spec"]["terminationGracePeriodSeconds"], "killed by the kubelet first"
    assert problems(deployment) == []


def test_the_init_container_passes_the_proxy_and_keeps_the_pods_group() -> None:
    spec = _deployment()["spec"]["template"]["spec"]
    [fetch], [runtime] = spec["initContainers"], spec["containers"]
    assert fetch["securityContext"] == pod.restricted() | {"runAsUser": pod.PROXY_UID}
    assert "runAsUser" not in runtime["securityContext"], "only the init container runs as the proxy's user"
    group = spec["securityContext"]
    assert group["runAsNonRoot"] and group["runAsGroup"] == group["fsGroup"] == pod.RUNTIME_UID
