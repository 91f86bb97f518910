"""`kanri local up|down|status`: the embedded cluster's supervisor."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kanri.console.cluster.local.control import running_supervisor, start_supervisor, stop_supervisor
from kanri.console.cluster.local.files import read_json
from kanri.console.cluster.local.paths import LocalPaths
from kanri.console.cluster.local.state import Observed
from kanri.console.commands.state import State

home_option = click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
                           help="kanri's data folder (default: the configured home, $KANRI_HOME).")


def _paths(home: Path | None) -> LocalPaths:
    return LocalPaths(Path(home or click.get_current_context().find_object(State).settings.home).resolve())


@click.group()
def local() -> None:
    """The local cluster: a supervisor that keeps replicas and routers running on this machine."""


@local.command()
@home_option
def up(home: Path | None) -> None:
    """Start the supervisor (it adopts replicas and routers still running from a previous one)."""
    paths = _paths(home)
    pid = start_supervisor(paths)
    click.echo(f"local cluster supervisor running (pid {pid}); state in {paths.root}")


@local.command()
@home_option
@click.option("--keep-serving", is_flag=True,
              help="Stop only the supervisor; replicas and routers keep serving until `kanri local up` adopts them.")
def down(home: Path | None, keep_serving: bool) -> None:
    """Stop the supervisor and, unless --keep-serving, every replica and router (drained)."""
    stopped = stop_supervisor(_paths(home), keep_serving=keep_serving)
    click.echo("local cluster stopped" if stopped else "the local cluster was not running")


@local.command()
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print the supervisor's observed state as JSON.")
def status(home: Path | None, as_json: bool) -> None:
    """Whether the supervisor runs, and each service's replicas and rollout."""
    paths = _paths(home)
    handle = running_supervisor(paths)
    observed = Observed.load(paths.observed)
    if as_json:
        click.echo(json.dumps({"supervisor_pid": handle.pid if handle else None,
                               "routes": read_json(paths.routes, {}), **observed.to_dict()}, indent=2))
        return
    click.echo(f"supervisor: {f'running (pid {handle.pid})' if handle else 'not running (kanri local up)'}")
    for route, address in sorted(read_json(paths.routes, {}).items()):
        click.echo(f"route {route}: {address}")
    for name, record in sorted(observed.services.items()):
        rollout = record.rollout
        click.echo(f"service {name}: {rollout.get('message', '')} {rollout.get('stuck', '')}".rstrip())
        for pod in record.pods:
            click.echo(f"  {pod.name}  {pod.phase:<16} ready={pod.ready!s:<5} restarts={pod.restarts} "
                       f"pid={pod.pid} 127.0.0.1:{pod.port} model={pod.model_version}")
