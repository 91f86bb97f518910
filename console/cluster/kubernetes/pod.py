"""What a service's pods carry besides the runtime container: who they run as, where they may run, their
volumes, the init container that fetches predictor code, and what Istio's sidecar needs of them.

The pods expect what manifests/base installs in the namespace: the
ServiceAccount kanri-runtime, and optionally the model store's credentials
Secret, its ReadWriteMany claim, an application's predictor source ConfigMap
and the git credentials Secret.

Predictor code is imported from FETCHED_DIR, then PREDICTOR_DIR: the init
container clones into a volume of its own, because a volume mounted on
PREDICTOR_DIR would hide the code a derived image carries there.
"""

from __future__ import annotations

import json

from ..base import ServiceSpec
from . import labels

GPU = "nvidia.com/gpu"
RUNTIME_ACCOUNT = "kanri-runtime"
RUNTIME_UID = 10001  # the user docker/serving.Dockerfile creates
PREDICTOR_DIR = "/srv/predictor"  # predictor code baked into a derived image (docker/serving.Dockerfile)
FETCHED_DIR = "/srv/fetched-predictor"  # predictor code the init container cloned, an emptyDir
PYTHONPATH = f"{FETCHED_DIR}:{PREDICTOR_DIR}"  # a repository named in kanri-source-APP wins over the image's
STORE_SECRET = "kanri-model-store"  # object-store credentials (AWS_*, GOOGLE_*, ...) as fsspec reads them
STORE_CLAIM = "kanri-model-store"  # the ReadWriteMany volume, when the model store is a path
GIT_SECRET = "kanri-git"  # GIT_USERNAME and GIT_PASSWORD (a token) for private predictor repositories
PROXY_UID = 1337  # istio-proxy's user: Istio's traffic redirection lets its connections through untouched
PROXY_LINGER_SECONDS = 2  # the proxy drains this much longer than the runtime takes to stop


def identity_and_security() -> dict:
    """The runtime never calls the Kubernetes API (no token), and runs as the image's non-root user."""
    return {"serviceAccountName": RUNTIME_ACCOUNT, "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": RUNTIME_UID, "runAsGroup": RUNTIME_UID,
                                "fsGroup": RUNTIME_UID, "seccompProfile": {"type": "RuntimeDefault"}}}


def restricted() -> dict:
    """The container security context Kubernetes' restricted Pod Security Standard asks for."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def affinity(spec: ServiceSpec, across_namespaces: bool = True) -> dict:
    """Replicas of a service spread over nodes where they can; different levels never share a node,
    in any namespace (a production pod never sits beside a development one; before Kubernetes 1.22, which
    lacks namespaceSelector, within kanri's namespace only); a level's own node pool (nodes labelled, and
    tainted, kanri.io/service-level=LEVEL) is preferred when there is one."""
    same_service = {"matchLabels": labels.pod_selector(spec.app, spec.name)}
    spread = {"weight": 100,
              "podAffinityTerm": {"labelSelector": same_service, "topologyKey": "kubernetes.io/hostname"}}
    other_levels = {"labelSelector": {"matchExpressions": [{"key": labels.LEVEL, "operator": "Exists"},
                                                           {"key": labels.LEVEL, "operator": "NotIn",
                                                            "values": [spec.level]}]},
                    **({"namespaceSelector": {}} if across_namespaces else {}), "topologyKey": "kubernetes.io/hostname"}
    own_pool = {"weight": 100, "preference": {"matchExpressions": [{"key": labels.LEVEL, "operator": "In",
                                                                    "values": [spec.level]}]}}
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [own_pool]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [spread],
                                "requiredDuringSchedulingIgnoredDuringExecution": [other_levels]}}


def tolerations(spec: ServiceSpec) -> list[dict]:
    """GPU nodes are tainted; so may be each level's node pool, which then takes only that level's pods."""
    gpu = [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}] if spec.resources.gpus else []
    return [*gpu, {"key": labels.LEVEL, "operator": "Equal", "value": spec.level, "effect": "NoSchedule"}]


def _store_on_volume(spec: ServiceSpec) -> bool:
    """A model store given as a path lives on the shared volume, mounted at that same path everywhere."""
    return spec.model_store.startswith("/")


def volumes(spec: ServiceSpec) -> list[dict]:
    store = [{"name": "model-store", "persistentVolumeClaim": {"claimName": STORE_CLAIM, "readOnly": True}}]
    return [{"name": "fetched-predictor", "emptyDir": {}}, *(store if _store_on_volume(spec) else [])]


def mounts(spec: ServiceSpec) -> list[dict]:
    """The runtime container's: the fetched predictor code, and the model store when it is on the shared volume."""
    store = [{"name": "model-store", "mountPath": spec.model_store, "readOnly": True}]
    return [{"name": "fetched-predictor", "mountPath": FETCHED_DIR, "readOnly": True},
            *(store if _store_on_volume(spec) else [])]


def predictor_fetch(spec: ServiceSpec, image: str) -> dict:
    """Clones the application's predictor repository when its ConfigMap kanri-source-APP names one (GIT_URL,
    GIT_BRANCH), else does nothing: data scientists push code instead of building images.

    It runs as istio-proxy's uid. Under the Istio CNI plugin the pod's traffic is redirected to the proxy
    from the start, but init containers run before the proxy does, so the clone's connections would reach
    nothing; traffic of that uid is not redirected (Istio's documented fix). Excluding the outbound ports
    instead (traffic.sidecar.istio.io/excludeOutboundPorts) would take them out of the mesh for the runtime
    too: 443 is also the object store's. The clone's group stays the pod's, RUNTIME_UID (also its fsGroup),
    and git writes files readable by all under the default umask, so the runtime reads them."""
    return {
        "name": "fetch-predictor",
        "image": image,
        "command": ["kanri-fetch-predictor", FETCHED_DIR],
        "envFrom": [{"configMapRef": {"name": f"kanri-source-{spec.app}", "optional": True}},
                    {"secretRef": {"name": GIT_SECRET, "optional": True}}],
        "volumeMounts": [{"name": "fetched-predictor", "mountPath": FETCHED_DIR}],
        "securityContext": restricted() | {"runAsUser": PROXY_UID},
    }


def sidecar_annotations(runtime_stop_seconds: int) -> dict[str, str]:
    """The pod template's proxy configuration (proxy.istio.io/config): the runtime starts, and fetches its
    model, only once the proxy is up (holdApplicationUntilProxyStarts); on termination the proxy drains a
    little longer than the runtime takes to answer and finish its calls in flight (Istio's default is 5 s,
    which would cut them), and still within the pod's termination grace period."""
    config = {"holdApplicationUntilProxyStarts": True,
              "terminationDrainDuration": f"{runtime_stop_seconds + PROXY_LINGER_SECONDS}s"}
    return {"proxy.istio.io/config": json.dumps(config)}
