"""`kanri sync`, `audit`, `db upgrade`, `config show`: keeping the registry honest."""

from __future__ import annotations

import click

from kanri.console.commands.output import emit_json, json_option, table
from kanri.console.commands.state import State, pass_context
from kanri.console.moments import age, moment
from kanri.console.ops import audit as audit_ops
from kanri.console.ops import sync as sync_ops
from kanri.console.ops.context import Context
from kanri.console.registry import database


@click.command("sync")
@click.option("--fix", is_flag=True, help="Apply the registry's desired state again wherever the cluster drifted.")
@json_option
@pass_context
def sync(ctx: Context, fix: bool, as_json: bool) -> None:
    """Compare the cluster with the registry and report drift."""
    found = sync_ops.sync(ctx, fix=fix)
    if as_json:
        emit_json({"drift": found, "fixed": fix and bool(found)})
        return
    if not found:
        click.echo("in sync: the cluster runs what the registry says")
        return
    table(found, {"target": lambda d: d.target, "field": lambda d: d.field, "registry": lambda d: d.desired,
                  "cluster": lambda d: d.actual, "where": lambda d: d.cluster})
    click.echo(f"{len(found)} difference(s)" + ("; applied the registry's state again" if fix
                                                 else "; run kanri sync --fix to converge"))


@click.command("audit")
@click.option("--since", help="Only events after this time (ISO 8601) or this long ago (30m, 12h, 7d).")
@click.option("--target", help="Only events whose target starts with this, e.g. digits/ or digits/digits-prod.")
@click.option("--limit", default=200, show_default=True, type=int)
@json_option
@pass_context
def audit(ctx: Context, since: str | None, target: str | None, limit: int, as_json: bool) -> None:
    """Who changed what, newest first."""
    events = audit_ops.audit_trail(ctx, moment(since, "--since"), target, limit)
    if as_json:
        emit_json(events)
        return
    table(events, {"time": lambda e: e.time, "age": lambda e: age(e.time), "actor": lambda e: e.actor,
                   "action": lambda e: e.action, "target": lambda e: e.target, "result": lambda e: e.result,
                   "change": audit_ops.change_summary, "error": lambda e: e.error})


@click.group("db")
def db_group() -> None:
    """The registry database."""


@db_group.command("upgrade")
@click.pass_obj
def upgrade(state: State) -> None:
    """Create the registry's tables, or migrate them to this kanri's schema."""
    engine = database.create_registry_engine(state.settings.database_url)
    try:
        before, after = database.upgrade(engine)
    finally:
        engine.dispose()
    where = database.mask_password(state.settings.database_url)
    click.echo(f"{where}: already at schema {after}" if before == after
               else f"{where}: schema {before or 'none'} → {after}")


@click.group("config")
def config_group() -> None:
    """kanri's configuration."""


@config_group.command("show")
@json_option
@click.pass_obj
def show(state: State, as_json: bool) -> None:
    """Print the effective configuration (file, then KANRI_* overrides), secrets masked."""
    shown = state.settings.shown()
    if as_json:
        emit_json(shown)
        return
    shown["source"] = shown["source"] or "(no file; defaults and environment)"
    width = max(len(key) for key in shown)
    for key, value in shown.items():
        click.echo(f"{key:<{width}}  {value}")
