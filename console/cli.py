"""The `kanri` command line: thin commands over console.ops, one line per error."""

from __future__ import annotations

import sys
from typing import Any

import click

from kanri.console.commands import (
    admin,
    alerts,
    apps,
    canary,
    console,
    demo,
    local,
    models,
    render,
    services,
    slo,
    telemetry,
)
from kanri.console.commands.state import State
from kanri.console.errors import KanriError
from kanri.serving import __version__
from kanri.serving.cli import serve, startapp


class KanriGroup(click.Group):
    """Turns kanri's errors into one line on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KanriError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        finally:
            state = ctx.find_object(State)
            if state is not None:
                state.close()


@click.group(cls=KanriGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kanri")
@click.option("--config", "config_file", envvar="KANRI_CONFIG", type=click.Path(dir_okay=False),
              help="kanri.toml to use (default: $KANRI_CONFIG, then $XDG_CONFIG_HOME/kanri/kanri.toml).")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """kanri operates machine-learning model services."""
    ctx.obj = State(config_file)


for command in (demo.demo, console.console, serve, startapp, apps.app_group, models.model_group, models.evaluate,
                services.service_group, services.switch, services.rollback, services.scale, services.autoscale,
                services.weights, services.pods, admin.sync, admin.audit, admin.db_group, admin.config_group,
                render.render, local.local, telemetry.top, telemetry.logs, slo.slo_command,
                canary.canary, alerts.alerts):
    main.add_command(command)
