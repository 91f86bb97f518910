"""A service as Kubernetes objects: Deployment, Service, PodDisruptionBudget and, when autoscaled, an HPA (on
CPU) or a KEDA ScaledObject (on its calls: scaling.py).

Pure functions of a ServiceSpec, so that what `kanri render` prints is exactly
what the backend applies; what the pods carry besides the runtime container is
in pod.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from kanri.serving import __version__

from ..base import REPLICA_WORKERS, ServiceSpec
from . import labels, pod, scaling
from .versions import KIND_APIS, Capabilities

METRICS_PORT = 9102
HTTP_PORT = 8080  # the runtime's HTTP/JSON API (Open Inference Protocol REST, kanri's Predict)
DRAIN_SECONDS = 5  # the runtime answers this long after SIGTERM while endpoints and Istio stop sending
GRACE_SECONDS = 20  # then in-flight calls get this long to finish


@dataclass(frozen=True)
class ObjectOptions:
    """What a cluster configuration adds to a ServiceSpec or RouteSpec."""

    image: str = f"ghcr.io/kanri/kanri:{__version__}"
    fetch_image: str = f"ghcr.io/kanri/kanri-fetch:{__version__}"  # git and the fetch script (docker/fetch.Dockerfile)
    progress_deadline_seconds: int = 600
    istio_api_version: str = "networking.istio.io/v1beta1"
    gateway: str = ""  # namespace/name of an Istio Gateway; with ingress_host, routes are reachable from outside
    ingress_host: str = ""  # one host for every application: the x-kanri-* headers pick the route
    # With both, the mesh checks every prediction's JWT (mesh_security.py); the two others narrow or widen it.
    jwt_issuer: str = ""
    jwks_uri: str = ""
    jwt_audiences: tuple[str, ...] = ()
    allowed_principals: tuple[str, ...] = ()  # service accounts let through without a token, "TD/ns/NS/sa/NAME"
    prometheus_url: str = ""  # where KEDA reads the calls of services that scale on them (scaling.py)


def _metadata(name: str, namespace: str, identity: dict[str, str], annotations: dict[str, str] | None = None) -> dict:
    meta = {"name": name, "namespace": namespace, "labels": identity}
    return meta | ({"annotations": annotations} if annotations else {})


def _env(spec: ServiceSpec) -> list[dict]:
    values = {"PREDICTOR": spec.predictor, "MODEL": spec.model.uri, "MODEL_SHA256": spec.model.sha256,
              "MODEL_VERSION": str(spec.model.version), "MODEL_STORE": spec.model_store, "APP": spec.app,
              "SERVICE": spec.name, "SERVICE_LEVEL": spec.level, "HOST": "0.0.0.0", "PORT": str(spec.port),
              "HTTP_PORT": str(HTTP_PORT), "METRICS_PORT": str(METRICS_PORT), "DRAIN_DELAY_SECONDS": str(DRAIN_SECONDS),
              "GRACE_SECONDS": str(GRACE_SECONDS),
              "WORKERS": str(REPLICA_WORKERS)}

    return [{"name": f"KANRI_{key}", "value": value} for key, value in values.items() if value]


def _resources(spec: ServiceSpec) -> dict:
    r = spec.resources
    requests = {"cpu": r.cpu_request, "memory": r.memory_request}
    limits = {"cpu": r.cpu_limit, "memory": r.memory_limit, pod.GPU: str(r.gpus) if r.gpus else ""}
    return {kind: {k: v for k, v in values.items() if v} for kind, values in
            (("requests", requests), ("limits", limits)) if any(values.values())}


def health_probe(spec: ServiceSpec, capabilities: Capabilities, path: str) -> dict:
    """gRPC health checking where the kubelet can (1.24+), else the Open Inference Protocol's health over HTTP
    (`path`: live or ready), which the same server answers from the same state."""
    if capabilities.grpc_probes:
        return {"grpc": {"port": spec.port}}
    return {"httpGet": {"path": f"/v2/health/{path}", "port": "http"}}


def _container(spec: ServiceSpec, image: str, capabilities: Capabilities) -> dict:
    ready, live = health_probe(spec, capabilities, "ready"), health_probe(spec, capabilities, "live")
    container = {
        "name": "kanri",
        "image": image,
        "command": ["kanri", "serve"],
        "env": [*_env(spec), {"name": "PYTHONPATH", "value": pod.PYTHONPATH}],
        "envFrom": [{"secretRef": {"name": pod.STORE_SECRET, "optional": True}}],
        "ports": [{"name": "grpc", "containerPort": spec.port, "protocol": "TCP"},
                  {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        # Loading a large model may take minutes: the startup probe holds liveness off until it is served.
        "startupProbe": ready | {"periodSeconds": 5, "failureThreshold": 120},
        "readinessProbe": ready | {"periodSeconds": 5, "failureThreshold": 2},
        "livenessProbe": live | {"periodSeconds": 10, "failureThreshold": 3},
        "volumeMounts": pod.mounts(spec),
        "securityContext": pod.restricted(),
    }
    return container | ({"resources": resources} if (resources := _resources(spec)) else {})


def deployment(spec: ServiceSpec, namespace: str, options: ObjectOptions, capabilities: Capabilities) -> dict:
    """The model's URI, sha256 and version are in the pod template, so a model switch is a rolling update.
    An autoscaled Deployment leaves replicas to its autoscaler (and the backend keeps the live count)."""
    model = {labels.MODEL_URI: spec.model.uri, labels.MODEL_SHA256: spec.model.sha256,
             labels.MODEL_VERSION: str(spec.model.version)}
    scrape = {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT), "prometheus.io/path": "/metrics"}
    bounds = {labels.MIN_REPLICAS: str(spec.min_replicas), labels.MAX_REPLICAS: str(spec.max_replicas),
              labels.CPU_THRESHOLD: str(spec.cpu_threshold)}
    image = spec.image or options.image
    pod_spec = pod.identity_and_security() | {
        "initContainers": [pod.predictor_fetch(spec, options.fetch_image)],
        "containers": [_container(spec, image, capabilities)], "volumes": pod.volumes(spec),
        "affinity": pod.affinity(spec, capabilities.anti_affinity_namespaces), "tolerations": pod.tolerations(spec),
        "terminationGracePeriodSeconds": DRAIN_SECONDS + GRACE_SECONDS + 5}
    identity = labels.identity(spec.app, spec.name, spec.level)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(labels.workload_name(spec.app, spec.name), namespace, identity, bounds),
        "spec": ({} if spec.autoscale else {"replicas": spec.replicas}) | {
            "selector": {"matchLabels": labels.pod_selector(spec.app, spec.name)},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": spec.max_surge, "maxUnavailable": spec.max_unavailable}},
            "minReadySeconds": spec.min_ready_seconds,
            "progressDeadlineSeconds": options.progress_deadline_seconds,
            "template": {"metadata": {"labels": identity, "annotations":
                                      model | scrape | pod.sidecar_annotations(DRAIN_SECONDS + GRACE_SECONDS)},
                         "spec": pod_spec},
        },
    }


def service(spec: ServiceSpec, namespace: str) -> dict:
    """The service's own address; the ports' appProtocol tells Istio to route gRPC and HTTP as such."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(labels.workload_name(spec.app, spec.name), namespace,
                              labels.identity(spec.app, spec.name, spec.level)),
        "spec": {"selector": labels.pod_selector(spec.app, spec.name),
                 "ports": [{"name": "grpc", "port": spec.port, "targetPort": "grpc", "protocol": "TCP",
                            "appProtocol": "grpc"},
                           {"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP",
                            "appProtocol": "http"},
                           {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}]},
    }


def disruption_budget(spec: ServiceSpec, namespace: str, capabilities: Capabilities) -> dict:
    """At most max unavailable (at least one) replicas evicted at once, so node drains proceed."""
    return {
        "apiVersion": capabilities.require(KIND_APIS["PodDisruptionBudget"]),
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(labels.workload_name(spec.app, spec.name), namespace,
                              labels.identity(spec.app, spec.name, spec.level)),
        "spec": {"maxUnavailable": max(spec.max_unavailable, 1),
                 "selector": {"matchLabels": labels.pod_selector(spec.app, spec.name)}},
    }


def autoscaler(spec: ServiceSpec, namespace: str, capabilities: Capabilities) -> dict:
    """CPU utilisation against the pods' CPU request (set one, or the namespace's LimitRange must).
    autoscaling/v2beta2 (before 1.23) has the same fields."""
    name = labels.workload_name(spec.app, spec.name)
    return {
        "apiVersion": capabilities.require(KIND_APIS["HorizontalPodAutoscaler"]),
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(name, namespace, labels.identity(spec.app, spec.name, spec.level),
                              scaling.UNCHECKED_BY_KEDA),
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                 "minReplicas": spec.min_replicas, "maxReplicas": spec.max_replicas,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                     "type": "Utilization", "averageUtilization": spec.cpu_threshold}}}]},
    }


def workload_objects(spec: ServiceSpec, namespace: str, options: ObjectOptions,
                     capabilities: Capabilities | None = None) -> list[dict]:
    """Every object of a service, for a cluster that serves `capabilities` (default: the newest Kubernetes)."""
    capabilities = capabilities or Capabilities()
    objects = [deployment(spec, namespace, options, capabilities), service(spec, namespace),
               disruption_budget(spec, namespace, capabilities)]
    if spec.scales_on_calls:
        return [*objects, scaling.scaled_object(spec, namespace, options.prometheus_url)]
    return [*objects, autoscaler(spec, namespace, capabilities)] if spec.autoscale else objects
