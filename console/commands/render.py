"""`kanri render`: the exact Kubernetes objects the backend applies, for GitOps users to commit."""

from __future__ import annotations

import click

from console.commands.state import State
from console.ops import services
from console.wiring import object_options


@click.command("render")
@click.argument("app")
@click.argument("service")
@click.pass_obj
def render(state: State, app: str, service: str) -> None:
    """Print SERVICE's Deployment, Service, PDB, HPA and its level's Istio routing as YAML.

    Needs no cluster: the objects come from the registry and the configuration
    (namespace, image, gateway, ingress host).
    """
    from console.cluster.kubernetes import render_service_yaml

    spec, route = services.desired(state.context, app, service)
    click.echo(render_service_yaml(spec, route, state.settings.kubernetes_namespace, object_options(state.settings)),
               nl=False)
