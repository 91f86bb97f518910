"""`kanri model …` and `kanri evaluate`: model versions."""

from __future__ import annotations

from pathlib import Path

import click

from kanri.console.commands.output import emit_json, fields, json_option, table
from kanri.console.commands.state import pass_context
from kanri.console.moments import age
from kanri.console.ops import evaluate as evaluation
from kanri.console.ops import models
from kanri.console.ops.context import Context
from kanri.console.ops.views import to_json


@click.group("model")
def model_group() -> None:
    """Upload, list and remove model versions."""


@model_group.command("upload")
@click.argument("app")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--description", default="", help="What changed in this version.")
@json_option
@pass_context
def upload(ctx: Context, app: str, file: Path, description: str, as_json: bool) -> None:
    """Store FILE as APP's next model version (identical bytes return the existing version)."""
    view, new = models.upload_model(ctx, app, file, description)
    if as_json:
        emit_json({**to_json(view), "new": new})
    elif new:
        click.echo(f"uploaded {app} v{view.version} ({view.format}, {view.size} bytes, sha256 {view.sha256[:12]})")
    else:
        click.echo(f"{app} v{view.version} already holds these bytes (sha256 {view.sha256[:12]}); nothing stored")


@model_group.command("list")
@click.argument("app")
@json_option
@pass_context
def list_(ctx: Context, app: str, as_json: bool) -> None:
    """List APP's model versions, with their latest evaluation and the services running them."""
    views = models.list_models(ctx, app)
    if as_json:
        emit_json(views)
        return
    table(views, {"version": lambda m: m.version, "format": lambda m: m.format, "size": lambda m: m.size,
                  "sha256": lambda m: m.sha256[:12], "age": lambda m: age(m.created_at),
                  "accuracy": lambda m: m.evaluation["accuracy"] if m.evaluation else None,
                  "services": lambda m: ",".join(m.used_by), "description": lambda m: m.description})


@model_group.command("show")
@click.argument("app")
@click.argument("version", type=int)
@json_option
@pass_context
def show(ctx: Context, app: str, version: int, as_json: bool) -> None:
    """Show one model version."""
    view = models.show_model(ctx, app, version)
    if as_json:
        emit_json(view)
    else:
        fields(view, ["app", "version", "sha256", "size", "format", "uri", "filename", "description", "created_at",
                      "created_by", "used_by"])


@model_group.command("remove")
@click.argument("app")
@click.argument("version", type=int)
@pass_context
def remove(ctx: Context, app: str, version: int) -> None:
    """Remove a model version no service runs (its number is never reused)."""
    models.remove_model(ctx, app, version)
    click.echo(f"removed {app} v{version}")


@click.command("evaluate")
@click.argument("app")
@click.argument("version", type=int)
@click.argument("data")
@json_option
@pass_context
def evaluate(ctx: Context, app: str, version: int, data: str, as_json: bool) -> None:
    """Score APP's model VERSION on DATA, a JSON-lines file of {"input": …, "label": …}, and record it."""
    view = evaluation.evaluate_model(ctx, app, version, data,
                                     progress=lambda message: click.echo(message, err=True))
    if as_json:
        emit_json(view)
        return
    m = view.metrics
    click.echo(f"{app} v{version} on {m['count']} examples: accuracy {m['accuracy']:.4f}, "
               f"precision {m['precision']:.4f}, recall {m['recall']:.4f}, f1 {m['f1']:.4f}")
