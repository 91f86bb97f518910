"""`kanri canary`: move a level's traffic to a new service step by step, rolling back on a breach."""

from __future__ import annotations

import json

import click

from kanri.console.commands.state import State
from kanri.console.errors import Invalid
from kanri.console.ops import services
from kanri.console.ops.canary import CanaryEvent, CanaryPlan, run_canary
from kanri.console.ops.views import to_json
from kanri.console.wiring import metrics_source
from kanri.serving.config import SERVICE_LEVELS

UNITS = {"s": 1, "m": 60, "h": 3600}
COLOURS = {"promoted": "green", "passed": "green", "rolled-back": "red", "cancelled": "yellow", "waiting": "yellow"}


def seconds(text: str) -> float:
    """90, 30s, 1m, 2h."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in UNITS else (text, "s")
    try:
        return float(number) * UNITS[unit]
    except ValueError as exc:
        raise Invalid(f"interval {text!r} is not a duration such as 30s, 1m or 2h") from exc


def percents(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as exc:
        raise Invalid(f"steps {text!r} must be percentages separated by commas, e.g. 5,25,50,100") from exc


@click.command("canary")
@click.argument("app")
@click.argument("level", type=click.Choice(SERVICE_LEVELS))
@click.option("--to", "canary", required=True, help="The service that traffic moves to.")
@click.option("--steps", default="5,25,50,100", show_default=True, help="Its share of traffic at each step, in %.")
@click.option("--interval", default="1m", show_default=True, help="How long each step runs before it is judged.")
@click.option("--max-error-increase", default=1.0, show_default=True, type=float,
              help="Percentage points its error ratio may exceed the baseline's by.")
@click.option("--max-latency-increase", default=50.0, show_default=True, type=float,
              help="Percent its p99 may exceed the baseline's by (plus --latency-slack-ms).")
@click.option("--latency-slack-ms", default=25.0, show_default=True, type=float)
@click.option("--webhook", default="", envvar="KANRI_WEBHOOK_URL",
              help="Slack-compatible webhook told of a rollback (default: $KANRI_WEBHOOK_URL; else a log line).")
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON object per line.")
@click.pass_obj
def canary(state: State, app: str, level: str, canary: str, steps: str, interval: str, max_error_increase: float,
           max_latency_increase: float, latency_slack_ms: float, webhook: str, as_json: bool) -> None:
    """Move LEVEL's traffic to SERVICE step by step while its errors and p99 stay within its SLO and near the
    baseline's; on a breach put its weight back to 0. Ctrl-C puts the starting weights back."""
    ctx = state.context
    plan = CanaryPlan(app, level, canary, percents(steps), seconds(interval), max_error_increase / 100,
                      max_latency_increase / 100, latency_slack_ms / 1000)
    services.show_service(ctx, app, canary)  # an unknown service is an error before anything moves
    source = metrics_source(state.settings, lambda: ctx.backend.pods(app))
    events = run_canary(ctx, source, plan, webhook_url=webhook)
    last: CanaryEvent | None = None
    try:
        for last in events:
            _print(last, as_json)
    except KeyboardInterrupt:
        events.close()  # Ctrl-C while printing: closing the canary puts the starting weights back
        last = CanaryEvent("cancelled", {}, "cancelled; the starting weights are back")
        _print(last, as_json)
    finally:
        source.close()
    if last is not None and last.kind in ("rolled-back", "cancelled"):
        raise SystemExit(1)


def _print(event: CanaryEvent, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(to_json(event)))
        return
    weights = " ".join(f"{name}={weight}" for name, weight in event.weights.items())
    kind = click.style(f"{event.kind:<11}", fg=COLOURS.get(event.kind))
    click.echo(f"{kind} {event.message}" + (f"  [{weights}]" if weights and event.kind != "passed" else ""))
