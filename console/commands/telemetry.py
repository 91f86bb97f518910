"""`kanri top` and `kanri logs`: live figures and log lines from whichever sources are configured."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import click

from kanri.console.commands.output import emit_json, table
from kanri.console.commands.state import State
from kanri.console.errors import Invalid
from kanri.console.moments import moment
from kanri.console.ops import applications, services
from kanri.console.ops.views import to_json
from kanri.console.telemetry import (
    Figures,
    LogLine,
    LogQuery,
    LogSource,
    MetricsSnapshot,
    TelemetryUnavailable,
    follow,
    levels_at_least,
)
from kanri.console.telemetry.format import COLUMNS
from kanri.console.telemetry.types import LEVELS
from kanri.console.wiring import log_source, metrics_source, pod_log_source


def _print_snapshot(snapshot: MetricsSnapshot) -> None:
    rows: list[tuple[str, str, Figures]] = []
    for service in snapshot.services:
        rows.append((service.service, "(all)", service.figures))
        rows += [(service.service, pod.pod, pod.figures) for pod in service.pods]
    table(rows, {"service": lambda r: r[0], "pod": lambda r: r[1],
                 **{name: (lambda r, get=get: get(r[2])) for name, get in COLUMNS.items()}})


@click.command("top")
@click.argument("app")
@click.argument("service", required=False)
@click.option("--once", is_flag=True, help="Print one snapshot and exit.")
@click.option("--interval", default=2.0, show_default=True, type=float, help="Seconds between refreshes.")
@click.option("--json", "as_json", is_flag=True, help="Print each snapshot as one JSON object per line.")
@click.pass_obj
def top(state: State, app: str, service: str | None, once: bool, interval: float, as_json: bool) -> None:
    """Requests/s, errors, latency, CPU, memory and GPU of APP's services and pods, refreshed until Ctrl-C."""
    ctx = state.context
    services.pods(ctx, app, service)  # an unknown application or service is an error, not an empty table
    source = metrics_source(state.settings, lambda: ctx.backend.pods(app, service))
    try:
        while True:
            snapshot = source.snapshot(app, service)
            if isinstance(snapshot, TelemetryUnavailable):
                if once:
                    raise Invalid(f"metrics unavailable: {snapshot.reason}")
                click.echo(f"metrics unavailable: {snapshot.reason}", err=True)
            elif as_json and once:
                emit_json(snapshot)
            elif as_json:
                click.echo(_one_line_json(snapshot))
            else:
                if not once:
                    click.clear()
                    click.echo(f"{app} at {datetime.fromtimestamp(snapshot.taken_at, UTC):%H:%M:%S} UTC "
                               f"(every {interval:g} s, Ctrl-C to stop)")
                _print_snapshot(snapshot)
                if not snapshot.services:
                    click.echo(f"no figures for {service or app} yet: no pod runs, or none has been scraped "
                               f"(kanri pods {app})", err=True)
            if once:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()


def _one_line_json(value: Any) -> str:
    return json.dumps(to_json(value), ensure_ascii=False)


def _print_line(line: LogLine, as_json: bool) -> None:
    if as_json:
        click.echo(_one_line_json(line.fields or line))
        return
    colour = {"error": "red", "critical": "red", "warning": "yellow", "debug": "bright_black"}.get(line.level)
    level = click.style(f"{line.level:<7}", fg=colour) if colour else f"{line.level:<7}"
    click.echo(f"{line.timestamp:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" {level} {line.pod}  {line.message}")


@click.command("logs")
@click.argument("app")
@click.argument("service", required=False)
@click.option("-f", "--follow", "following", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--grep", default="", help="Only lines whose message holds all these words.")
@click.option("--level", type=click.Choice(LEVELS), help="Only lines at this level or worse.")
@click.option("--service-level", help="Only this service level's lines.")
@click.option("--pod", help="Only this pod's lines.")
@click.option("--since", help="Only lines after this time (ISO 8601) or this long ago (30m, 12h, 7d).")
@click.option("--limit", default=200, show_default=True, type=int, help="How many recent lines to start with.")
@click.option("--previous", is_flag=True,
              help="The container's run before its last restart, a crash loop's last words (Kubernetes API).")
@click.option("--container", default="",
              help="Read this container of each pod instead of the runtime (kanri), e.g. fetch-predictor, the "
                   "init container that fetches the predictor code (Kubernetes API).")
@click.option("--json", "as_json", is_flag=True, help="Print each line as the JSON object it was.")
@click.pass_obj
def logs(state: State, app: str, service: str | None, following: bool, grep: str, level: str | None,
         service_level: str | None, pod: str | None, since: str | None, limit: int, previous: bool, container: str,
         as_json: bool) -> None:
    """Recent log lines of APP (or SERVICE) from all its pods, oldest first; with --follow, new ones as they
    arrive, from pods that start meanwhile too."""
    if service:  # an unknown application or service is an error, not an empty listing
        services.show_service(state.context, app, service)
    else:
        applications.show_app(state.context, app)
    query = LogQuery(app, service=service, service_level=service_level, pod=pod,
                     levels=levels_at_least(level) if level else frozenset(), text=grep,
                     since=moment(since, "--since"), limit=limit)
    source = _log_source(state, container, previous)
    try:
        if not following:
            page = source.search(query)
            if isinstance(page, TelemetryUnavailable):
                raise Invalid(f"logs unavailable: {page.reason}{_hint(page.reason, app)}")
            for line in page.lines:
                _print_line(line, as_json)
            return
        said = ""
        for page in follow(source, query):
            if isinstance(page, TelemetryUnavailable):
                if page.reason != said:  # once, not every second while it lasts
                    click.echo(f"logs unavailable, retrying: {page.reason}{_hint(page.reason, app)}", err=True)
                said = page.reason
                continue
            said = ""
            for line in page.lines:
                _print_line(line, as_json)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()


def _hint(reason: str, app: str) -> str:
    """What to do about the refusal operators meet most: --previous on a pod that never restarted."""
    if "previous terminated container" not in reason:
        return ""
    return f"; only a container that restarted has a previous run (RESTARTS in `kanri pods {app}`)"


def _log_source(state: State, container: str, previous: bool) -> LogSource:
    """A pod container's log by name, or its previous run, is only the kubelet's to give: those two options
    read the Kubernetes API even where Elasticsearch holds the lines."""
    if not (container or previous):
        return log_source(state.settings)
    if state.settings.cluster != "kubernetes":
        raise Invalid("--previous and --container read a pod's container through the Kubernetes API, and this "
                      "kanri runs the embedded cluster (KANRI_CLUSTER is not kubernetes); its replicas append "
                      "every run to one log file, so `kanri logs` without them shows the lines before a restart")
    return pod_log_source(state.settings, container, previous)
