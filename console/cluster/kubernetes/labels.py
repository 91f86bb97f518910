"""The names, labels and annotations kanri gives the Kubernetes objects it manages, to find them again.

Objects of a service are named APP-SERVICE; the objects of a route, shared by
the services of one application at one level, APP-LEVEL (the host name the
SDK dials: ``Client(app=..., service_level=..., domain=NAMESPACE.svc.cluster.local)``).
"""

from __future__ import annotations

from kanri.serving.config import SERVICE_LEVELS

from ..base import DNS_LABEL, ClusterError

MANAGED_BY = "app.kubernetes.io/managed-by"
APP = "kanri.io/app"
SERVICE = "kanri.io/service"
LEVEL = "kanri.io/service-level"

MODEL_URI = "kanri.io/model-uri"
MODEL_SHA256 = "kanri.io/model-sha256"
MODEL_VERSION = "kanri.io/model-version"
# Autoscaling bounds kept on the Deployment so that they read back even while no HPA exists.
MIN_REPLICAS = "kanri.io/min-replicas"
MAX_REPLICAS = "kanri.io/max-replicas"
CPU_THRESHOLD = "kanri.io/cpu-threshold"
# Marks a route's second VirtualService, for the shared ingress host: it repeats the route, so it is not read back.
INGRESS_ROUTE = "kanri.io/ingress-route"

def _object_name(app: str, part: str, what: str) -> str:
    name = f"{app}-{part}"
    if not DNS_LABEL.match(name):
        raise ClusterError(f"{what} {name!r} cannot name Kubernetes objects: use lower-case letters, digits and '-', "
                           "start with a letter, at most 63 characters in all")
    return name


def workload_name(app: str, service: str) -> str:
    """The Deployment, Service, HPA and PDB of one service."""
    if service in SERVICE_LEVELS:
        raise ClusterError(f"service {app}/{service} is named like a service level, whose route objects are "
                           f"named {app}-{service}; choose another service name")
    return _object_name(app, service, "service")


def level_name(app: str, level: str) -> str:
    """The Service, VirtualService and DestinationRule of an application's route at one level."""
    return _object_name(app, level, "route")


def identity(app: str, service: str, level: str) -> dict[str, str]:
    """The labels every object of a service carries (its pods too)."""
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": workload_name(app, service),
            MANAGED_BY: "kanri", APP: app, SERVICE: service, LEVEL: level}


def workload_metadata(app: str, service: str, level: str, namespace: str) -> dict:
    """The metadata of an object of one service that carries nothing else (named APP-SERVICE)."""
    return {"name": workload_name(app, service), "namespace": namespace, "labels": identity(app, service, level)}


def route_identity(app: str, level: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, MANAGED_BY: "kanri", APP: app, LEVEL: level}


def level_metadata(app: str, level: str, namespace: str) -> dict:
    """The metadata of each object of an application's route at one level (they share the name APP-LEVEL)."""
    return {"name": level_name(app, level), "namespace": namespace, "labels": route_identity(app, level)}


def level_pods(app: str, level: str) -> dict[str, str]:
    """The labels every pod of an application at a level carries, whichever service it runs."""
    return {APP: app, LEVEL: level}


def pod_selector(app: str, service: str) -> dict[str, str]:
    """The Deployment's selector: immutable in Kubernetes, so it leaves out what may change (the level)."""
    return {APP: app, SERVICE: service}


def narrowed(**narrowed_by: str) -> dict[str, str]:
    """The labels of kanri's objects of an app=, service=, level= (those given)."""
    keys = {"app": APP, "service": SERVICE, "level": LEVEL}
    return {MANAGED_BY: "kanri"} | {keys[k]: v for k, v in narrowed_by.items() if v}


def managed(**narrowed_by: str) -> str:
    """A label selector for kanri's objects, narrowed by app=, service=, level= when given."""
    return ",".join(f"{key}={value}" for key, value in narrowed(**narrowed_by).items())


def route_objects_of(app: str, level: str) -> str:
    """A label selector for the objects of an application's route at a level (they name no service)."""
    return f"{managed(app=app, level=level)},!{SERVICE}"
