"""An application's route at one service level as Kubernetes and Istio objects.

One Service per (application, level) selects every pod of that level: its
name is the stable address. A DestinationRule names each service of the level
as a subset; a VirtualService splits calls over the subsets by weight and may
mirror a share of them to a shadow subset.

Inside the mesh, that VirtualService's host is the level's own. Through the
ingress gateway one host serves every application, and the x-kanri-app and
x-kanri-service-level headers the SDK sends pick the route: so each route
has a second VirtualService, bound to the gateway only, with the same split
behind that header match. Istio merges the VirtualServices of one host bound
to a gateway; bound to the mesh they would conflict (istioctl analyze IST0109).

With a JWT issuer configured, the objects deciding who may call the level (mesh_security.py) come last.
"""

from __future__ import annotations

from ..base import RouteSpec
from . import labels, mesh_security
from .objects import HTTP_PORT, ObjectOptions

LEVEL_PORT = 50051
GRPC_CALLS = {"content-type": {"prefix": "application/grpc"}}


def level_host(app: str, level: str, namespace: str) -> str:
    return f"{labels.level_name(app, level)}.{namespace}.svc.cluster.local"


def _metadata(route: RouteSpec, namespace: str) -> dict:
    return labels.level_metadata(route.app, route.level, namespace)


def level_service(route: RouteSpec, namespace: str) -> dict:
    """targetPort by name: services of one level may serve on different container ports."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(route, namespace),
        "spec": {"selector": labels.level_pods(route.app, route.level),
                 "ports": [{"name": "grpc", "port": LEVEL_PORT, "targetPort": "grpc", "protocol": "TCP",
                            "appProtocol": "grpc"},
                           {"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP",
                            "appProtocol": "http"}]},
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


def _destination(route: RouteSpec, namespace: str, subset: str, port: int | None) -> dict:
    """Without a port, a call goes on to the port it came to (gRPC to gRPC, HTTP to HTTP)."""
    where = {"host": level_host(route.app, route.level, namespace), "subset": subset}
    return where | ({"port": {"number": port}} if port else {})


def _weights(route: RouteSpec, namespace: str, name: str = "weights", match: dict | None = None,
             port: int | None = None) -> dict:
    """The HTTP route of calls that match (all when no match is given): split over the level's subsets by
    weight, a share mirrored."""
    http = {"name": name, **({"match": [match]} if match else {}),
            "route": [{"destination": _destination(route, namespace, service, port), "weight": weight}
                      for service, weight in sorted(route.weights.items())]}
    if route.mirror:
        http["mirror"] = _destination(route, namespace, route.mirror, port)
        http["mirrorPercentage"] = {"value": float(route.mirror_percent)}
    return http


def virtual_service(route: RouteSpec, namespace: str, options: ObjectOptions) -> dict:
    """Calls from inside the mesh to the level's host."""
    return {
        "apiVersion": options.istio_api_version,
        "kind": "VirtualService",
        "metadata": _metadata(route, namespace),
        "spec": {"hosts": [level_host(route.app, route.level, namespace)], "gateways": ["mesh"],
                 "http": [_weights(route, namespace)]},
    }


def ingress_name(app: str, level: str) -> str:
    """The gateway's VirtualService of a route: named apart from the route's other objects (APP-LEVEL)."""
    return f"{labels.level_name(app, level)}-ingress"


def ingress_virtual_service(route: RouteSpec, namespace: str, options: ObjectOptions) -> dict:
    """Calls to the shared ingress host, through the gateway, whose x-kanri-* headers name this application and
    level: gRPC calls to the gRPC port, the others (HTTP/JSON) to the HTTP port. Labelled labels.INGRESS_ROUTE:
    it repeats the route, which the mesh VirtualService alone reads back as."""
    headers = {"x-kanri-app": {"exact": route.app}, "x-kanri-service-level": {"exact": route.level}}
    return {
        "apiVersion": options.istio_api_version,
        "kind": "VirtualService",
        "metadata": {"name": ingress_name(route.app, route.level), "namespace": namespace,
                     "labels": labels.route_identity(route.app, route.level) | {labels.INGRESS_ROUTE: "true"}},
        "spec": {"hosts": [options.ingress_host], "gateways": [options.gateway],
                 "http": [_weights(route, namespace, "grpc", {"headers": headers | GRPC_CALLS}, LEVEL_PORT),
                          _weights(route, namespace, "http", {"headers": headers}, HTTP_PORT)]},
    }


def route_objects(route: RouteSpec, namespace: str, options: ObjectOptions) -> list[dict]:
    """Every object of a route, in the order they are applied (subsets before the routes that name them), then
    the level's mesh security when configured."""
    objects = [level_service(route, namespace), destination_rule(route, namespace, options),
               virtual_service(route, namespace, options)]
    if options.gateway and options.ingress_host:
        objects.append(ingress_virtual_service(route, namespace, options))
    return objects + mesh_security.level_objects(route.app, route.level, namespace, options)
