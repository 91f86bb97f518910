"""The kinds the fake serves, and errors as the API server answers them (Status objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

Obj = dict

@dataclass(frozen=True)
class Kind:
    group: str
    versions: tuple[str, ...]
    plural: str
    kind: str

    @property
    def resource(self) -> str:
        """How the real server names the resource in messages: "deployments.apps"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


KINDS = {(k.group, k.plural): k for k in (
    Kind("apps", ("v1",), "deployments", "Deployment"),
    Kind("", ("v1",), "services", "Service"),
    Kind("", ("v1",), "pods", "Pod"),
    Kind("autoscaling", ("v2",), "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
    Kind("policy", ("v1",), "poddisruptionbudgets", "PodDisruptionBudget"),
    Kind("networking.istio.io", ("v1", "v1beta1"), "virtualservices", "VirtualService"),
    Kind("networking.istio.io", ("v1", "v1beta1"), "destinationrules", "DestinationRule"),
)}
DEPLOYMENTS = KINDS["apps", "deployments"]
PODS = KINDS["", "pods"]


class ApiError(Exception):
    """Answered as a Kubernetes Status object with this HTTP code and reason."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> Obj:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
