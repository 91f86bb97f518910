"""`kanri alerts`: the SLO alerts firing for an application, once or as they come and go."""

from __future__ import annotations

import time
from collections.abc import Callable

import click

from kanri.console.commands.canary import seconds
from kanri.console.commands.output import emit_json, table
from kanri.console.commands.state import State
from kanri.console.errors import Unavailable
from kanri.console.ops import slo
from kanri.console.slo.alerts import AlertSource, FiringAlert
from kanri.console.slo.notify import notify
from kanri.console.slo.status import burn_alerts
from kanri.console.slo.watch import AlertWatch, message
from kanri.console.telemetry.types import TelemetryUnavailable
from kanri.console.wiring import metrics_source


@click.command("alerts")
@click.argument("app")
@click.option("--watch", is_flag=True, help="Keep looking every --interval and print what fires and resolves.")
@click.option("--interval", default="30s", show_default=True, help="Time between looks with --watch.")
@click.option("--webhook", default="", envvar="KANRI_WEBHOOK_URL",
              help="Slack-compatible webhook told of each alert that fires or resolves (default: $KANRI_WEBHOOK_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the firing alerts as JSON.")
@click.pass_obj
def alerts(state: State, app: str, watch: bool, interval: str, webhook: str, as_json: bool) -> None:
    """SLO alerts firing for APP: from Prometheus when configured (its rules from `kanri render rules`), else
    judged here from the replicas' metrics by the burn rate now."""
    pause = seconds(interval)  # a mistyped --interval fails before the first look, not after it
    look = _looker(state, app)
    # Without a webhook the command's own output says it all: no log lines besides.
    watcher = AlertWatch(webhook, notify=notify if webhook else lambda text, url: None)
    try:
        while True:
            found = look()
            if isinstance(found, TelemetryUnavailable):
                if not watch:
                    raise Unavailable(f"alerts unavailable: {found.reason}")
                click.echo(f"alerts unavailable: {found.reason}", err=True)
            elif watch:
                fired, resolved = watcher.look(found)
                for alert in fired:
                    click.echo(message(alert))
                for alert in resolved:
                    click.echo(message(alert, resolved=True))
            else:
                watcher.look(found)
                _print(found, as_json)
                return
            time.sleep(pause)
    except KeyboardInterrupt:
        pass


def _looker(state: State, app: str) -> Callable[[], list[FiringAlert] | TelemetryUnavailable]:
    ctx, settings = state.context, state.settings
    slo.list_slos(ctx, app)  # an unknown application is an error, not an empty answer
    if settings.prometheus_url:
        source = AlertSource(settings.prometheus_url, timeout=settings.telemetry_timeout)
        return lambda: source.firing(app)
    metrics = metrics_source(settings, lambda: ctx.backend.pods(app))

    def judged() -> list[FiringAlert] | TelemetryUnavailable:
        statuses = slo.slo_overview(ctx, metrics, app)
        return statuses if isinstance(statuses, TelemetryUnavailable) else burn_alerts(statuses)

    return judged


def _print(found: list[FiringAlert], as_json: bool) -> None:
    if as_json:
        emit_json(found)
    elif not found:
        click.echo("no alerts firing")
    else:
        table(found, {"severity": lambda a: a.severity, "service": lambda a: a.service, "slo": lambda a: a.slo,
                      "alert": lambda a: a.name, "summary": lambda a: a.summary})
