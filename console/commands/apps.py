"""`kanri app …`: applications."""

from __future__ import annotations

import click

from kanri.console.commands.output import emit_json, fields, json_option, table
from kanri.console.commands.state import pass_context
from kanri.console.moments import age
from kanri.console.ops import applications
from kanri.console.ops.context import Context


@click.group("app")
def app_group() -> None:
    """Create and list applications (a model family and its predictor code)."""


@app_group.command("create")
@click.argument("name")
@click.option("--predictor", required=True, metavar="FILE.py:CLASS|MODULE:CLASS",
              help="The PredictInterface subclass that serves this application's models.")
@click.option("--description", default="", help="What the application does.")
@click.option("--image", default="", help="Container image for Kubernetes (default: the cluster's runtime image).")
@json_option
@pass_context
def create(ctx: Context, name: str, predictor: str, description: str, image: str, as_json: bool) -> None:
    """Register application NAME (a DNS label)."""
    view = applications.create_app(ctx, name, predictor, description, image)
    if as_json:
        emit_json(view)
    else:
        click.echo(f"created application {view.name} (predictor {view.predictor})")


@app_group.command("list")
@json_option
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    """List applications."""
    views = applications.list_apps(ctx)
    if as_json:
        emit_json(views)
        return
    table(views, {"name": lambda a: a.name, "models": lambda a: a.models, "services": lambda a: a.services,
                  "age": lambda a: age(a.created_at), "description": lambda a: a.description})


@app_group.command("show")
@click.argument("name")
@json_option
@pass_context
def show(ctx: Context, name: str, as_json: bool) -> None:
    """Show one application."""
    view = applications.show_app(ctx, name)
    if as_json:
        emit_json(view)
    else:
        fields(view, ["name", "description", "predictor", "image", "created_at", "models", "services"])
