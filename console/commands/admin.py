"""`kanri sync`, `audit`, `db upgrade`, `config show`: keeping the registry honest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from console.commands.output import age, emit_json, json_option, table
from console.commands.state import State, pass_context
from console.errors import Invalid
from console.ops import audit as audit_ops
from console.ops import sync as sync_ops
from console.ops.context import Context
from console.ops.views import AuditView
from console.registry import database


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


def since_option_time(text: str | None) -> datetime | None:
    """An ISO date/time, or a duration back from now: 30m, 12h, 7d."""
    if not text:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1:] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Invalid(f"--since {text!r} is neither a time (2026-11-23T10:00) nor a duration (30m, 12h, 7d)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("audit")
@click.option("--since", help="Only events after this time (ISO 8601) or this long ago (30m, 12h, 7d).")
@click.option("--target", help="Only events whose target starts with this, e.g. digits/ or digits/digits-prod.")
@click.option("--limit", default=200, show_default=True, type=int)
@json_option
@pass_context
def audit(ctx: Context, since: str | None, target: str | None, limit: int, as_json: bool) -> None:
    """Who changed what, newest first."""
    events = audit_ops.audit_trail(ctx, since_option_time(since), target, limit)
    if as_json:
        emit_json(events)
        return
    table(events, {"time": lambda e: e.time, "age": lambda e: age(e.time), "actor": lambda e: e.actor,
                   "action": lambda e: e.action, "target": lambda e: e.target, "result": lambda e: e.result,
                   "change": _change, "error": lambda e: e.error})


def _change(event: AuditView) -> str:
    """What changed, short: "replicas 1→3", or "version=2" for what had no before."""
    before, after = event.before or {}, event.after or {}

    def short(value: object) -> str:
        if isinstance(value, dict):
            return "{" + " ".join(f"{k}={v}" for k, v in value.items()) + "}"
        text = str(value)
        return text if len(text) <= 16 else text[:15] + "…"

    return ", ".join(f"{key} {short(before[key])}→{short(value)}" if key in before else f"{key}={short(value)}"
                     for key, value in after.items() if before.get(key) != value)


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
