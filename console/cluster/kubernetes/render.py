"""The YAML `kanri render` prints: exactly the objects the backend applies, for GitOps users to commit."""

from __future__ import annotations

import yaml

from ..base import RouteSpec, ServiceSpec
from .objects import ObjectOptions, workload_objects
from .routing import route_objects
from .versions import Capabilities


class _PlainDumper(yaml.SafeDumper):
    """No &anchors/*aliases for objects that share a dict (labels): committed YAML is read by people."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def render_service_yaml(spec: ServiceSpec, route: RouteSpec | None, namespace: str,
                        options: ObjectOptions | None = None, capabilities: Capabilities | None = None) -> str:
    """A service's objects (for a cluster that serves `capabilities`, by default the newest Kubernetes), then its
    level's route objects when a route is given, as one YAML stream."""
    options = options or ObjectOptions()
    documents = workload_objects(spec, namespace, options, capabilities)
    documents += route_objects(route, namespace, options) if route else []
    return yaml.dump_all(documents, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False)
