"""The Kubernetes cluster backend: services as Deployments, routes as Istio VirtualServices, on one or more clusters.

Modules: labels (names and labels), objects and routing (ServiceSpec and
RouteSpec as Kubernetes objects), mesh_security (who may call a level), pod (what the pods carry besides the runtime
container), render (them as YAML), connection (API clients, timeouts, errors),
versions (API discovery and what it changes), kinds (REST calls per kind), apply (checked, ordered
server-side apply), watching (watched copies), status and readback
(objects back into the contract's terms), backend (the ClusterBackend).
"""

from .backend import KubernetesBackend
from .objects import ObjectOptions
from .render import render_service_yaml
from .versions import Capabilities

__all__ = ["Capabilities", "KubernetesBackend", "ObjectOptions", "render_service_yaml"]
