"""Applications: a model family and the predictor code that serves it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kanri.console.errors import Conflict, Invalid
from kanri.console.ops import validation
from kanri.console.ops.context import Context, change, get_app
from kanri.console.ops.views import AppView, app_view
from kanri.console.registry import schema


def predictor_reference(reference: str) -> str:
    """FILE.py:Class with the file made absolute (replicas start elsewhere), or module:Class as given.

    The class is not imported here: the console may run where the model's
    libraries are not installed, as on an operator's laptop driving a cluster.
    """
    module, sep, class_name = reference.rpartition(":")
    if not sep or not module or not class_name.isidentifier():
        raise Invalid(f"predictor {reference!r} must look like path/to/file.py:Class or package.module:Class")
    if module.endswith(".py"):
        path = Path(module).expanduser().resolve()
        if not path.is_file():
            raise Invalid(f"predictor file {path} does not exist")
        return f"{path}:{class_name}"
    return reference


def create_app(ctx: Context, name: str, predictor: str, description: str = "", image: str = "") -> AppView:
    validation.dns_label("application", name)
    predictor = predictor_reference(predictor)
    with change(ctx, "app.create", name) as c:
        if c.session.scalar(select(schema.Application.id).where(schema.Application.name == name)):
            raise Conflict(f"application {name!r} already exists")
        app = schema.Application(name=name, predictor=predictor, description=description, image=image)
        c.session.add(app)
        c.event.after = {"predictor": predictor, "description": description, "image": image}
        c.session.flush()
        view = app_view(app)
    return view


def list_apps(ctx: Context) -> list[AppView]:
    with ctx.registry.session() as session:
        apps = session.scalars(select(schema.Application).order_by(schema.Application.name)
                               .options(selectinload(schema.Application.models),
                                        selectinload(schema.Application.services))).all()
        return [app_view(app) for app in apps]


def show_app(ctx: Context, name: str) -> AppView:
    with ctx.registry.session() as session:
        return app_view(get_app(session, name))
