"""An application's route at one service level as Kubernetes and Istio objects.

One Service per (application, level) selects every pod of that level: its
name is the stable address. A DestinationRule names each service of the level
as a subset; a VirtualService splits calls over the subsets by weight and may
mirror a share of them to a shadow subset. Calls match when they come from
inside the mesh, or through the ingress gateway with the x-kanri-app and
x-kanri-service-level headers the SDK sends, so one ingress host can serve
every application.
"""

from __future__ import annotations

from ..base import RouteSpec
from . import labels
from .objects import ObjectOptions

LEVEL_PORT = 50051


def level_host(app: str, level: str, namespace: str) -> str:
    return f"{labels.level_name(app, level)}.{namespace}.svc.cluster.local"


def _metadata(route: RouteSpec, namespace: str) -> dict:
    return {"name": labels.level_name(route.app, route.level), "namespace": namespace,
            "labels": labels.route_identity(route.app, route.level)}


def level_service(route: RouteSpec, namespace: str) -> dict:
    """targetPort by name: services of one level may serve on different container ports."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(route, namespace),
        "spec": {"selector": {labels.APP: route.app, labels.LEVEL: route.level},
                 "ports": [{"name": "grpc", "port": LEVEL_PORT, "targetPort": "grpc", "protocol": "TCP",
                            "appProtocol": "grpc"}]},
    }


def destination_rule(route: RouteSpec, namespace: str, options: ObjectOptions) -> dict:
    subsets = sorted(set(route.weights) | ({route.mirror} if route.mirror else set()))
    return {
        "apiVersion": options.istio_api_version,
        "kind": "DestinationRule",
        "metadata": _metadata(route, namespace),
        "spec": {"host": level_host(route.app, route.level, namespace),
                 "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}},
                 "subsets": [{"name": name, "labels": {labels.SERVICE: name}} for name in subsets]},
    }


def _destination(route: RouteSpec, namespace: str, subset: str) -> dict:
    return {"host": level_host(route.app, route.level, namespace), "subset": subset, "port": {"number": LEVEL_PORT}}


def virtual_service(route: RouteSpec, namespace: str, options: ObjectOptions) -> dict:
    ingress = bool(options.gateway and options.ingress_host)
    headers = {"x-kanri-app": {"exact": route.app}, "x-kanri-service-level": {"exact": route.level}}
    http = {
        "name": "weights",
        "match": [{"gateways": ["mesh"]}, {"headers": headers}],
        "route": [{"destination": _destination(route, namespace, service), "weight": weight}
                  for service, weight in sorted(route.weights.items())],
    }
    if route.mirror:
        http["mirror"] = _destination(route, namespace, route.mirror)
        http["mirrorPercentage"] = {"value": float(route.mirror_percent)}
    hosts = [level_host(route.app, route.level, namespace), *([options.ingress_host] if ingress else [])]
    return {
        "apiVersion": options.istio_api_version,
        "kind": "VirtualService",
        "metadata": _metadata(route, namespace),
        "spec": {"hosts": hosts} | ({"gateways": ["mesh", options.gateway]} if ingress else {}) | {"http": [http]},
    }


def route_objects(route: RouteSpec, namespace: str, options: ObjectOptions) -> list[dict]:
    """Every object of a route, in the order they are applied (subsets before the routes that name them)."""
    return [level_service(route, namespace), destination_rule(route, namespace, options),
            virtual_service(route, namespace, options)]
