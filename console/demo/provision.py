"""Setting the demo up through the operations layer, idempotently.

Every step looks at what exists first, so running `kanri demo` again reuses
the demo, a run interrupted halfway is completed by the next one, and what an
operator changed since (a switch, new weights) is left as it is.
"""

from __future__ import annotations

from pathlib import Path

from kanri.console.cluster.base import ClusterError
from kanri.console.cluster.local.control import running_supervisor
from kanri.console.cluster.local.paths import LocalPaths
from kanri.console.demo.artifacts import ensure_trained, held_out_images
from kanri.console.demo.curl import curl_line
from kanri.console.demo.plan import APP, MODELS, PREDICTOR, PRODUCTION_WEIGHTS, SERVICES, Progress
from kanri.console.ops import applications, models, routes, services
from kanri.console.ops.context import Context
from kanri.console.ops.sync import sync

ROLLOUT_TIMEOUT = 180.0


def provision(ctx: Context, home: Path, progress: Progress) -> None:
    """Train, register, deploy and route the demo in home; returns once every service converged, having
    said how to call it over HTTP."""
    folder = ensure_trained(home, progress)
    versions = _register(ctx, folder, progress)
    _deploy(ctx, versions, progress)
    _route_production(ctx, progress)
    _restart_cluster_if_down(ctx, home, progress)
    _wait_for_rollouts(ctx, home, progress)
    progress("call production over HTTP: " + curl_line(ctx.backend.http_address(APP, "production"),
                                                         held_out_images(home)[0]))


def _register(ctx: Context, folder: Path, progress: Progress) -> dict[str, int]:
    """The application and both versions; returns artifact name → version number."""
    if APP not in {app.name for app in applications.list_apps(ctx)}:
        applications.create_app(ctx, APP, PREDICTOR, description="8x8 handwritten digits (kanri demo)")
        progress(f"registered application {APP}")
    versions = {}
    for name, description in MODELS.items():
        # identical bytes give back the existing version: this is what makes a second run add nothing
        view, new = models.upload_model(ctx, APP, folder / name, description=description)
        versions[name] = view.version
        progress(f"{'registered' if new else 'found'} model {APP} v{view.version} ({description})")
    return versions


def _deploy(ctx: Context, versions: dict[str, int], progress: Progress) -> None:
    existing = {view.name for view in services.list_services(ctx, APP)}
    for service in SERVICES:
        if service.name in existing:
            continue
        progress(f"starting {service.name} at {service.level} on v{versions[service.model]} "
                 f"({service.replicas} replica{'s' if service.replicas > 1 else ''})")
        services.create_service(ctx, APP, service.name, service.level, versions[service.model],
                                services.ServiceSettings(replicas=service.replicas))


def _route_production(ctx: Context, progress: Progress) -> None:
    """90/10 over the two production services, unless the operator already moved the weights."""
    first, *others = PRODUCTION_WEIGHTS  # the first service of a level takes all its traffic when created
    as_created = {first: 100, **dict.fromkeys(others, 0)}
    if routes.show_route(ctx, APP, "production").weights == as_created:
        routes.set_weights(ctx, APP, "production", PRODUCTION_WEIGHTS)
        progress("production traffic: " + ", ".join(f"{name} {weight}%" for name, weight in
                                                      PRODUCTION_WEIGHTS.items()))


def _restart_cluster_if_down(ctx: Context, home: Path, progress: Progress) -> None:
    """After a reboot or `kanri local down` the registry still holds the demo: apply it to the cluster again."""
    if running_supervisor(LocalPaths(home)) is None:
        progress("the demo's local cluster is not running: starting it again")
        sync(ctx, fix=True)


def _wait_for_rollouts(ctx: Context, home: Path, progress: Progress) -> None:
    progress(f"waiting for {len(SERVICES)} services to become ready")
    for service in SERVICES:
        last = None
        for status in services.watch_rollout(ctx, APP, service.name, ROLLOUT_TIMEOUT):
            last = status
        if last is None or not last.converged:
            reason = (last.stuck or last.message) if last else "no rollout status"
            raise ClusterError(f"{APP}/{service.name} did not become ready: {reason}; see its logs with "
                               f"`KANRI_HOME={home} kanri logs {APP} {service.name}`")
        progress(f"{service.name}: {last.available}/{last.desired} replicas ready")
