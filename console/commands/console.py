"""`kanri console`: the operations console on the configured registry, cluster and telemetry."""

from __future__ import annotations

import click

from kanri.console.commands.state import State


@click.command("console")
@click.option("--read-only", is_flag=True, help="Hide and refuse every change: for watching, not operating.")
@click.option("--refresh", "refresh_seconds", default=2.0, show_default=True, type=click.FloatRange(min=0.2),
              help="Seconds between live refreshes of pods, metrics and logs.")
@click.pass_obj
def console(state: State, read_only: bool, refresh_seconds: float) -> None:
    """Open the keyboard-driven console: applications, services × models, pods, logs; ? lists the keys."""
    from kanri.console.tui.app import run_console  # Textual loads only for the console

    run_console(state.settings, read_only=read_only, refresh_seconds=refresh_seconds)
