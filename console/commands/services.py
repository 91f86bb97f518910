"""`kanri service …`, `switch`, `rollback`, `scale`, `autoscale`, `weights`: what runs, and how much."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kanri.console import moments
from kanri.console.cluster.base import ClusterError, RolloutStatus
from kanri.console.commands.output import emit_json, fields, json_option, table
from kanri.console.commands.state import pass_context
from kanri.console.errors import Invalid
from kanri.console.moments import duration
from kanri.console.ops import routes, services
from kanri.console.ops.context import Context
from kanri.console.ops.views import ServiceView, to_json
from kanri.serving.config import SERVICE_LEVELS

wait_options = [
    click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the rollout until it converges."),
    click.option("--timeout", default=300.0, show_default=True, type=float, help="Seconds to follow the rollout."),
]


def with_wait(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(wait_options):
        command = option(command)
    return command


@click.group("service")
def service_group() -> None:
    """Create, list and delete services (an application at a service level)."""


@service_group.command("create")
@click.argument("app")
@click.argument("name")
@click.option("--level", required=True, type=click.Choice(SERVICE_LEVELS), help="The service level.")
@click.option("--model", "version", required=True, type=int, help="The model version to run.")
@click.option("--replicas", default=1, show_default=True, type=int)
@click.option("--min", "min_replicas", type=int, help="Autoscaling lower bound (default: replicas).")
@click.option("--max", "max_replicas", type=int, help="Autoscaling upper bound (default: replicas).")
@click.option("--cpu-threshold", default=80, show_default=True, type=int, help="Autoscale at this CPU %.")
@click.option("--max-surge", default=1, show_default=True, type=int, help="Extra replicas during a rollout.")
@click.option("--max-unavailable", default=0, show_default=True, type=int,
              help="Replicas that may be missing during a rollout.")
@click.option("--min-ready-seconds", default=0, show_default=True, type=int,
              help="How long a new replica must stay ready before it counts.")
@click.option("--cpu", "cpu_request", default="", help="CPU request, e.g. 500m.")
@click.option("--cpu-limit", default="", help="CPU limit, e.g. 2.")
@click.option("--memory", "memory_request", default="", help="Memory request, e.g. 512Mi.")
@click.option("--memory-limit", default="", help="Memory limit, e.g. 1Gi.")
@click.option("--gpus", default=0, show_default=True, type=int)
@click.option("--port", default=50051, show_default=True, type=int, help="gRPC port inside the pod.")
@click.option("--image", default="", help="Container image (default: the application's).")
@click.option("--memo", default="", help="A note for operators.")
@with_wait
@json_option
@pass_context
def create(ctx: Context, app: str, name: str, level: str, version: int, wait: bool, timeout: float, as_json: bool,
           **settings: object) -> None:
    """Run APP's model VERSION as service NAME at a service level."""
    view = services.create_service(ctx, app, name, level, version, services.ServiceSettings(**settings))
    _follow(ctx, view, wait, timeout, as_json, f"created service {app}/{name} at {level} running "
                                               f"v{view.model_version} ({view.replicas} replica(s), "
                                               f"{view.weight}% of {level} traffic)")


@service_group.command("list")
@click.argument("app", required=False)
@json_option
@pass_context
def list_(ctx: Context, app: str | None, as_json: bool) -> None:
    """List services (of APP, or of every application) with their route's gRPC and HTTP addresses."""
    views = services.list_services(ctx, app)
    if as_json:
        emit_json(views)
        return
    table(views, {"app": lambda s: s.app, "service": lambda s: s.name, "level": lambda s: s.level,
                  "model": lambda s: f"v{s.model_version}", "replicas": _replicas, "weight": lambda s: f"{s.weight}%",
                  "converged": lambda s: s.converged, "address": lambda s: s.address,
                  "http": lambda s: s.http_address})


SCALING_FIELDS = {"min_replicas", "max_replicas", "autoscale", "cpu_threshold", "scale_metric", "scale_target",
                  "scale_to_zero_after"}


def _replicas(view: ServiceView) -> str:
    """"3", or the autoscaler's bounds and target: the count it runs now is the cluster's to say (`service show`)."""
    return view.autoscaling_text() if view.autoscale else str(view.replicas)



@service_group.command("show")
@click.argument("app")
@click.argument("name")
@json_option
@pass_context
def show(ctx: Context, app: str, name: str, as_json: bool) -> None:
    """Show one service's desired state, and what runs now: replicas ready, and what its autoscaler wants and why."""
    view = services.show_service(ctx, app, name)
    live = services.live_status(ctx, app, name)
    _print_service(view, as_json, "", live if isinstance(live, RolloutStatus) else None)
    if not as_json:
        click.echo(f"{'now':<24}{_now(view, live)}")


def _now(view: ServiceView, live: RolloutStatus | str) -> str:
    if isinstance(live, str):
        return f"unknown: {live}"
    running = f"{live.ready}/{live.desired} ready"
    if view.autoscale and live.scale_reason:
        return f"{running}; the autoscaler wants {live.desired}: {live.scale_reason}"
    return running


@service_group.command("delete")
@click.argument("app")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def delete(ctx: Context, app: str, name: str, yes: bool) -> None:
    """Delete a service and its replicas."""
    if not yes:
        click.confirm(f"Delete service {app}/{name} and its replicas?", abort=True)
    services.delete_service(ctx, app, name)
    click.echo(f"deleted service {app}/{name}")


def _print_service(view: ServiceView, as_json: bool, summary: str, rollout: RolloutStatus | None = None) -> None:
    if as_json:
        emit_json({**to_json(view), "rollout": to_json(rollout) if rollout else None})
    elif summary:
        click.echo(summary)
    else:
        # One line says how the replicas are set, as `service list` does, not five raw fields of which some
        # (a CPU threshold under a call metric, an idle time at min 1) do not apply.
        names = [name for name in to_json(view) if name not in SCALING_FIELDS]
        fields(view, names, {"replicas": _replicas(view)})


def _follow(ctx: Context, view: ServiceView, wait: bool, timeout: float, as_json: bool, summary: str,
            undo: str = "") -> None:
    """Report the change, then the rollout's progress until it converges; a stuck rollout fails the command,
    saying how to `undo` the change when there is a way."""
    if not as_json:
        click.echo(summary)
    last = None
    if wait:
        for status in services.watch_rollout(ctx, view.app, view.name, timeout):
            last = status
            if not as_json:
                click.echo(f"  rollout: {status.updated}/{status.desired} updated, {status.ready} ready, "
                           f"{status.available} available" + (f" — {status.message}" if status.message else ""),
                           err=True)
    if as_json:
        _print_service(view, True, "", last)
    if last is not None and not last.converged:
        raise ClusterError(f"rollout of {view.app}/{view.name} is stuck: {last.stuck or last.message}; "
                           "the old replicas keep serving" + (f"; {undo}" if undo else ""))
    if last is not None and not as_json:
        click.echo(f"{view.app}/{view.name} converged: {last.available}/{last.desired} available")


@click.command("switch")
@click.argument("app")
@click.argument("service")
@click.argument("version", type=int)
@with_wait
@json_option
@pass_context
def switch(ctx: Context, app: str, service: str, version: int, wait: bool, timeout: float, as_json: bool) -> None:
    """Switch SERVICE to model VERSION by rolling update."""
    view = services.switch(ctx, app, service, version)
    back = view.previous_model_version
    _follow(ctx, view, wait, timeout, as_json, f"switching {app}/{service} to v{version}",
            f"`kanri rollback {app} {service}` returns it to v{back}" if back else "")


@click.command("rollback")
@click.argument("app")
@click.argument("service")
@with_wait
@json_option
@pass_context
def rollback(ctx: Context, app: str, service: str, wait: bool, timeout: float, as_json: bool) -> None:
    """Switch SERVICE back to the model it ran before."""
    view = services.rollback(ctx, app, service)
    _follow(ctx, view, wait, timeout, as_json, f"rolling {app}/{service} back to v{view.model_version}")


@click.command("scale")
@click.argument("app")
@click.argument("service")
@click.argument("replicas", type=int)
@with_wait
@json_option
@pass_context
def scale(ctx: Context, app: str, service: str, replicas: int, wait: bool, timeout: float, as_json: bool) -> None:
    """Run REPLICAS replicas of SERVICE."""
    view = services.scale(ctx, app, service, replicas)
    _follow(ctx, view, wait, timeout, as_json, f"scaling {app}/{service} to {replicas} replica(s)")


@click.command("autoscale")
@click.argument("app")
@click.argument("service")
@click.option("--min", "min_replicas", required=True, type=int,
              help="Fewest replicas; 0 lets a service scaled on --concurrency or --rps go idle.")
@click.option("--max", "max_replicas", required=True, type=int, help="Most replicas.")
@click.option("--cpu-threshold", type=int, help="Scale on CPU: the target % of each replica's CPU request.")
@click.option("--concurrency", type=float, help="Scale on calls: the target calls in flight per replica.")
@click.option("--rps", type=float, help="Scale on calls: the target calls per second per replica.")
@click.option("--scale-to-zero-after", "idle", metavar="DURATION",
              help=f"With --min 0: how long without a call before the last replica goes (30s, 5m; "
                   f"default {duration(services.DEFAULT_SCALE_TO_ZERO_AFTER)}).")
@json_option
@pass_context
def autoscale(ctx: Context, app: str, service: str, min_replicas: int, max_replicas: int, cpu_threshold: int | None,
              concurrency: float | None, rps: float | None, idle: str | None, as_json: bool) -> None:
    """Keep SERVICE between --min and --max replicas, by CPU or by its calls (min = max turns autoscaling off).

    \b
    kanri autoscale shop recommend --min 1 --max 5 --cpu-threshold 70
    kanri autoscale shop recommend --min 0 --max 8 --concurrency 4 --scale-to-zero-after 2m
    """
    chosen = [(metric, value) for metric, value in (("cpu", cpu_threshold), ("concurrency", concurrency),
                                                    ("rps", rps)) if value is not None]
    if len(chosen) != 1:
        raise Invalid("give one of --cpu-threshold, --concurrency or --rps: what the replicas scale on")
    metric, target = chosen[0]
    view = services.autoscale(ctx, app, service, min_replicas, max_replicas, metric, target,
                              None if idle is None else moments.seconds(idle, "--scale-to-zero-after"))
    state = "on" if view.autoscale else "off"
    _print_service(view, as_json, f"autoscaling {state} for {app}/{service}: {_replicas(view)}")


def _weight(text: str) -> tuple[str, int]:
    name, sep, number = text.partition("=")
    if not sep or not number.strip().isdigit():
        raise Invalid(f"weight {text!r} must look like SERVICE=PERCENT, e.g. digits-a=90")
    return name.strip(), int(number)


@click.command("weights")
@click.argument("app")
@click.argument("level", type=click.Choice(SERVICE_LEVELS))
@click.argument("weights", nargs=-1, required=True, metavar="SERVICE=WEIGHT...")
@click.option("--mirror", default="", help="Copy a share of calls to this service and discard its answers.")
@click.option("--mirror-percent", default=0, type=int, help="The share of calls to mirror.")
@json_option
@pass_context
def weights(ctx: Context, app: str, level: str, weights: tuple[str, ...], mirror: str, mirror_percent: int,
            as_json: bool) -> None:
    """Split APP's LEVEL traffic over its services; weights sum to 100 (unnamed services get 0)."""
    pairs = [_weight(text) for text in weights]
    requested = dict(pairs)
    if len(requested) != len(pairs):
        raise Invalid("a service is named twice")
    view = routes.set_weights(ctx, app, level, requested, mirror, mirror_percent)
    if as_json:
        emit_json(view)
        return
    split = ", ".join(f"{name} {weight}%" for name, weight in view.weights.items())
    shadow = f"; mirroring {view.mirror_percent}% to {view.mirror}" if view.mirror else ""
    click.echo(f"{app} {level}: {split}{shadow}")


@click.command("pods")
@click.argument("app")
@click.argument("service", required=False)
@json_option
@pass_context
def pods(ctx: Context, app: str, service: str | None, as_json: bool) -> None:
    """List the replicas of APP's services (or of SERVICE): status as kubectl shows it, readiness, restarts,
    model, where, and why a pod is not running well."""
    found = services.pods(ctx, app, service)
    if as_json:
        emit_json(found)
        return
    if not found:  # not a bare header: say so, and whether that is a service resting at zero
        view = services.show_service(ctx, app, service) if service else None
        resting = view is not None and view.autoscale and view.min_replicas == 0
        click.echo(f"no replicas of {app}/{service or '*'} run now" +
                   ("; it scales to zero when idle, and its next call starts one" if resting else ""))
        return
    table(found, {"name": lambda p: p.name, "service": lambda p: p.service, "status": lambda p: p.status,
                  "ready": lambda p: p.ready, "restarts": lambda p: p.restarts,
                  "age": lambda p: duration(p.age_seconds),
                  "model": lambda p: f"v{p.model_version}" if p.model_version is not None else None,
                  "host": lambda p: p.host, "cluster": lambda p: p.cluster, "pid": lambda p: p.pid,
                  "address": lambda p: p.address, "reason": lambda p: p.reason})

