"""The kinds the fake stores, and errors as the API server answers them (Status objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    group: str
    plural: str
    kind: str
    short_names: tuple[str, ...] = ()
    custom: bool = False  # served through a CustomResourceDefinition: no strategic merge patch, PUT needs a version
    returns_deleted: bool = False  # a DELETE answers with the object, not with a Status (the registry's choice)

    @property
    def resource(self) -> str:
        """How the real server names the resource in messages: "deployments.apps"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified(self) -> str:
        """How the real server names the kind in validation messages: "Deployment.apps", "Service"."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


DEPLOYMENTS = Kind("apps", "deployments", "Deployment", ("deploy",))
SERVICES = Kind("", "services", "Service", ("svc",), returns_deleted=True)
PODS = Kind("", "pods", "Pod", ("po",), returns_deleted=True)
HPAS = Kind("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler", ("hpa",))
PDBS = Kind("policy", "poddisruptionbudgets", "PodDisruptionBudget", ("pdb",))


def _custom(group: str, plural: str, kind: str, short_name: str) -> Kind:
    return Kind(group, plural, kind, (short_name,), custom=True, returns_deleted=True)


ISTIO = (_custom("networking.istio.io", "virtualservices", "VirtualService", "vs"),
         _custom("networking.istio.io", "destinationrules", "DestinationRule", "dr"),
         _custom("networking.istio.io", "gateways", "Gateway", "gw"))
ISTIO_SECURITY = (_custom("security.istio.io", "requestauthentications", "RequestAuthentication", "ra"),
                  _custom("security.istio.io", "authorizationpolicies", "AuthorizationPolicy", "ap"),
                  _custom("security.istio.io", "peerauthentications", "PeerAuthentication", "pa"))
KEDA = (_custom("keda.sh", "scaledobjects", "ScaledObject", "so"),)
PROMETHEUS_OPERATOR = (_custom("monitoring.coreos.com", "servicemonitors", "ServiceMonitor", "smon"),
                       _custom("monitoring.coreos.com", "prometheusrules", "PrometheusRule", "promrule"))
KINDS = {(k.group, k.plural): k for k in (DEPLOYMENTS, SERVICES, PODS, HPAS, PDBS, *ISTIO, *ISTIO_SECURITY,
                                          *PROMETHEUS_OPERATOR, *KEDA)}


class ApiError(Exception):
    """Answered as a Kubernetes Status object with this HTTP code, reason and details."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> Obj:
        status: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": self.message}
        if self.reason:  # omitted for errors the server did not classify (500 from a plain Go error)
            status["reason"] = self.reason
        if self.details is not None:
            status["details"] = self.details
        return status | {"code": self.code}


def details(kind: Kind, name: str) -> Obj:
    found = {"name": name, "group": kind.group, "kind": kind.plural}
    return {k: v for k, v in found.items() if v}


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{kind.resource} "{name}" not found', details(kind, name))


def not_served() -> ApiError:
    """The answer for a path no API serves: an unknown group, version or resource."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def conflict(kind: Kind, name: str, why: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {kind.resource} "{name}": {why}',
                    details(kind, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
