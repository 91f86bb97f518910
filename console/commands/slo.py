"""`kanri slo`: a service's objectives, set or shown."""

from __future__ import annotations

import click

from kanri.console.commands.output import emit_json, json_option, table
from kanri.console.commands.state import pass_context
from kanri.console.ops import slo
from kanri.console.ops.context import Context

COLUMNS = {"app": lambda o: o.app, "service": lambda o: o.service, "level": lambda o: o.level,
           "availability": lambda o: f"{o.availability_percent:g}%",
           "latency": lambda o: f"{o.latency_percent:g}% < {o.latency_ms:g} ms",
           "window": lambda o: f"{o.window_days}d"}


@click.command("slo")
@click.argument("app")
@click.argument("service", required=False)
@click.option("--availability", type=float, help="Percent of calls answered without a server fault, e.g. 99.9.")
@click.option("--latency-ms", type=float, help="Latency threshold in ms (a histogram bound, e.g. 100).")
@click.option("--latency-percent", default=slo.DEFAULT_LATENCY_PERCENT, show_default=True, type=float,
              help="Percent of calls that must answer within --latency-ms.")
@click.option("--window-days", default=slo.DEFAULT_WINDOW_DAYS, show_default=True, type=int,
              help="The window the objectives are judged over.")
@click.option("--remove", is_flag=True, help="Remove SERVICE's objectives.")
@json_option
@pass_context
def slo_command(ctx: Context, app: str, service: str | None, availability: float | None, latency_ms: float | None,
                latency_percent: float, window_days: int, remove: bool, as_json: bool) -> None:
    """Set SERVICE's objectives (with --availability and --latency-ms), or show APP's or SERVICE's."""
    setting = availability is not None or latency_ms is not None
    if (setting or remove) and service is None:
        raise click.UsageError("name the SERVICE whose objectives to set or remove")
    if remove:
        slo.remove_slo(ctx, app, service)
        click.echo(f"removed the SLO of {app}/{service}")
        return
    if setting:
        if availability is None or latency_ms is None:
            raise click.UsageError("setting an SLO needs both --availability and --latency-ms")
        objectives = [slo.set_slo(ctx, app, service, availability, latency_ms, latency_percent, window_days)]
    elif service is not None:
        objectives = [slo.show_slo(ctx, app, service)]
    else:
        objectives = slo.list_slos(ctx, app)
    if as_json:
        emit_json(objectives if service is None else objectives[0])
    else:
        table(objectives, COLUMNS)
