"""Which API versions a cluster serves, discovered once per connection, and what that changes in kanri's objects.

kanri writes the newest API a cluster serves for each kind, so one kanri talks
to clusters from 1.20 to today: autoscaling/v2 or v2beta2, policy/v1 or
v1beta1, gRPC probes from 1.24 (the runtime's HTTP health before), a
cross-namespace anti-affinity from 1.22. A kind a cluster serves in no version kanri knows is
an error that names the missing API and the Kubernetes version that serves it,
raised before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..base import ClusterError


@dataclass(frozen=True)
class KindApi:
    """One kind kanri manages, in the versions kanri can write, newest first, each with where it is served."""

    kind: str
    plural: str
    versions: tuple[tuple[str, str], ...]  # (group/version, "served from" in words), newest first
    needs: str = ""  # what provides it when it is not part of Kubernetes itself

    @property
    def many(self) -> str:
        """The kind in the plural, for messages: Deployments, AuthorizationPolicies."""
        return f"{self.kind[:-1]}ies" if re.search(r"[^aeiou]y$", self.kind) else f"{self.kind}s"


KIND_APIS = {k.kind: k for k in (
    KindApi("Deployment", "deployments", (("apps/v1", "Kubernetes 1.9"),)),
    KindApi("Service", "services", (("v1", "every Kubernetes"),)),
    KindApi("Pod", "pods", (("v1", "every Kubernetes"),)),
    KindApi("PodDisruptionBudget", "poddisruptionbudgets",
            (("policy/v1", "Kubernetes 1.21 and later"), ("policy/v1beta1", "Kubernetes 1.5 to 1.24"))),
    KindApi("HorizontalPodAutoscaler", "horizontalpodautoscalers",
            (("autoscaling/v2", "Kubernetes 1.23 and later"), ("autoscaling/v2beta2", "Kubernetes 1.12 to 1.25"))),
)}
ISTIO_KINDS = {"VirtualService": "virtualservices", "DestinationRule": "destinationrules"}
ISTIO_SECURITY_API_VERSION = "security.istio.io/v1beta1"  # v1 only from Istio 1.22
ISTIO_SECURITY_KINDS = {"RequestAuthentication": "requestauthentications", "PeerAuthentication": "peerauthentications",
                        "AuthorizationPolicy": "authorizationpolicies"}
OLDEST_SUPPORTED = (1, 20)
NEWEST_TESTED = (1, 31)


def istio_kind(kind: str, api_version: str) -> KindApi:
    """Istio's kinds in the one version the configuration names (its CRDs serve several)."""
    return KindApi(kind, ISTIO_KINDS[kind], ((api_version, "Istio 1.5 and later"),),
                   needs="install Istio (its CRDs) on this cluster, or set istio_api_version to a version it serves")


def istio_security_kind(kind: str) -> KindApi:
    """Istio's security kinds, in the one version every Istio since 1.5 serves; written only where kanri's
    configuration asks the mesh to check callers (mesh_security.py)."""
    return KindApi(kind, ISTIO_SECURITY_KINDS[kind], ((ISTIO_SECURITY_API_VERSION, "Istio 1.5 and later"),),
                   needs="install Istio (its CRDs) on this cluster, or unset istio_jwt_issuer and istio_jwks_uri")


SCALED_OBJECT = KindApi("ScaledObject", "scaledobjects", (("keda.sh/v1alpha1", "KEDA 2.0 and later"),),
                        needs="install KEDA on this cluster (helm install keda kedacore/keda --namespace keda "
                              "--create-namespace; docs/running-on-kubernetes.md, \"Scaling on calls, and to zero\"), "
                              "or scale this service on --cpu-threshold")
"""KEDA's, written for a service that scales on its calls (scaling.py)."""


@dataclass(frozen=True)
class Capabilities:
    """What a cluster serves that changes the objects kanri renders for it and the calls it makes."""

    version: tuple[int, int] = NEWEST_TESTED
    served: frozenset[str] | None = None  # group/versions from discovery; None: a stock cluster of `version`

    @property
    def grpc_probes(self) -> bool:
        """Probe.grpc: alpha in 1.23, on by default from 1.24; older servers prune it and refuse the probe."""
        return self.version >= (1, 24)

    @property
    def anti_affinity_namespaces(self) -> bool:
        """PodAffinityTerm.namespaceSelector: on by default from 1.22; older servers prune it silently."""
        return self.version >= (1, 22)

    def serves(self, group_version: str) -> bool:
        """Without discovery, a stock Kubernetes of `version`, with whatever else (Istio) kanri is told to use."""
        if self.served is not None:
            return group_version in self.served
        builtin = _served_by_version(self.version)
        return group_version in builtin or group_version not in _BUILTIN

    def require(self, kind: KindApi, cluster: str = "") -> str:
        """The version to write `kind` in: the newest served; a ClusterError naming the missing API when none is."""
        for group_version, _ in kind.versions:
            if self.serves(group_version):
                return group_version
        raise ClusterError(not_served(kind, cluster, self.version))


def not_served(kind: KindApi, cluster: str, version: tuple[int, int]) -> str:
    wanted = " or ".join(f"{gv} ({where})" for gv, where in kind.versions)
    who = f"cluster {cluster} (Kubernetes {version[0]}.{version[1]})" if cluster else \
        f"Kubernetes {version[0]}.{version[1]}"
    what = kind.needs or "use a cluster of a version that serves one"
    return f"{who} serves no API kanri can write {kind.many} in: it needs {wanted}; {what}"


_BUILTIN = {"v1", "apps/v1", "policy/v1", "policy/v1beta1", "autoscaling/v2", "autoscaling/v2beta2"}


def _served_by_version(version: tuple[int, int]) -> set[str]:
    """The group/versions a stock Kubernetes of this version serves, for rendering without a cluster."""
    minor = version[1] if version[0] == 1 else 99
    served = {"v1", "apps/v1"}
    served |= {"policy/v1"} if minor >= 21 else set()
    served |= {"policy/v1beta1"} if minor <= 24 else set()
    served |= {"autoscaling/v2"} if minor >= 23 else set()
    served |= {"autoscaling/v2beta2"} if minor <= 25 else set()
    return served


def parse_version(text: str) -> tuple[int, int]:
    """'1.20', 'v1.20.2', '1.27+' (EKS/GKE say '27+' as the minor) → (1, 20)."""
    found = re.match(r"v?(\d+)\.(\d+)", text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a Kubernetes version such as 1.29")
    return int(found[1]), int(found[2])


def server_version(answer: dict) -> tuple[int, int]:
    """From /version: major and minor, whose minor may carry a '+' (managed clusters)."""
    try:
        return int(answer["major"].rstrip("+")), int(re.match(r"\d+", answer["minor"])[0])  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return parse_version(answer.get("gitVersion", ""))


def served_group_versions(core: dict, groups: dict) -> set[str]:
    """From /api and /apis: every group/version the server serves (the core group as plain 'v1')."""
    served = set(core.get("versions", []))
    for group in groups.get("groups", []):
        served |= {v["groupVersion"] for v in group.get("versions", [])}
    return served
