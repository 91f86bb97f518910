"""`kanri render`: the exact Kubernetes objects the backend applies, and the monitoring configuration made from
the SLOs, for GitOps users to commit."""

from __future__ import annotations

import click

from kanri.console.commands.state import State
from kanri.console.ops import services, slo
from kanri.console.slo.alertmanager import alertmanager_config
from kanri.console.slo.rules import RuleSettings, as_rules_file, prometheus_rule, rules_file
from kanri.console.telemetry.promql import Labels, Queries
from kanri.console.wiring import object_options


class RenderGroup(click.Group):
    """`kanri render APP SERVICE` as ever; `kanri render rules` and `kanri render alertmanager` beside it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["service", *args]
        return super().parse_args(ctx, args)


@click.group("render", cls=RenderGroup)
def render() -> None:
    """Print what kanri would apply or configure, as YAML: a service's objects, SLO rules, Alertmanager routes."""


@render.command("service")
@click.argument("app")
@click.argument("service")
@click.option("--kubernetes-version", "version", default="", metavar="1.N",
              help="Render for a cluster of this version (from 1.20): the API versions and probes it serves. "
                   "Default: the newest Kubernetes.")
@click.pass_obj
def render_service(state: State, app: str, service: str, version: str) -> None:
    """Print SERVICE's Deployment, Service, PDB, HPA or ScaledObject, its level's routing (`kanri render APP SERVICE`).

    Needs no cluster: the objects come from the registry and the configuration
    (namespace, image, gateway, ingress host; with a JWT issuer and its JWKS,
    the level's RequestAuthentication, PeerAuthentication and
    AuthorizationPolicy too). On a cluster, kanri writes the same objects in
    the API versions that cluster serves.
    """
    from kanri.console.cluster.kubernetes import Capabilities, render_service_yaml
    from kanri.console.cluster.kubernetes.versions import OLDEST_SUPPORTED, parse_version

    try:
        capabilities = Capabilities(parse_version(version)) if version else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--kubernetes-version") from None
    if capabilities and capabilities.version < OLDEST_SUPPORTED:
        raise click.BadParameter(f"kanri supports Kubernetes {OLDEST_SUPPORTED[0]}.{OLDEST_SUPPORTED[1]} and later",
                                 param_hint="--kubernetes-version")
    spec, route = services.desired(state.context, app, service)
    click.echo(render_service_yaml(spec, route, state.settings.kubernetes_namespace, object_options(state.settings),
                                   capabilities), nl=False)


@render.command("rules")
@click.argument("app", required=False)
@click.option("--prometheus-rule", "as_object", is_flag=True, help="As a PrometheusRule object (Prometheus Operator).")
@click.pass_obj
def render_rules(state: State, app: str | None, as_object: bool) -> None:
    """Print the recording and burn-rate alerting rules of every SLO (of APP) for Prometheus' rule_files."""
    objectives, where = slo.list_slos(state.context, app), RuleSettings(namespace=_rules_namespace(state))
    if as_object:
        click.echo(prometheus_rule(objectives, where, namespace=state.settings.kubernetes_namespace), nl=False)
    else:
        click.echo(rules_file(objectives, where), nl=False)


@render.command("latency-rules")
@click.option("--interval", default="15s", show_default=True, help="How often Prometheus evaluates them.")
@click.pass_obj
def render_latency_rules(state: State, interval: str) -> None:
    """Print recording rules that keep every pod's and service's p50/p99 latency ahead of time.

    With them in Prometheus' rule_files, `kanri top` and the console read those
    quantiles instead of rating every latency bucket at each refresh (found by
    themselves, checked once a minute).
    """
    group = Queries(Labels(), namespace=_rules_namespace(state)).latency_rules(interval)
    click.echo(as_rules_file([group]), nl=False)


@render.command("alertmanager")
@click.option("--webhook", required=True, envvar="KANRI_WEBHOOK_URL",
              help="Where pages go: a Slack-compatible incoming webhook URL (default: $KANRI_WEBHOOK_URL).")
@click.option("--ticket-webhook", default="", help="Where tickets go, when not to the same webhook.")
def render_alertmanager(webhook: str, ticket_webhook: str) -> None:
    """Print an Alertmanager configuration routing SLO pages and tickets to Slack-compatible webhooks."""
    click.echo(alertmanager_config(webhook, ticket_webhook), nl=False)


def _rules_namespace(state: State) -> str | None:
    """The namespace rules match series in: the cluster's on Kubernetes; any in the embedded cluster."""
    settings = state.settings
    return settings.kubernetes_namespace if settings.cluster == "kubernetes" else None
