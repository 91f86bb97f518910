"""Model versions: upload into the content-addressed store, list, remove, evaluate."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kanri.console.errors import Conflict, Invalid
from kanri.console.ops.context import Context, change, get_app, get_model
from kanri.console.ops.views import ModelView, model_view
from kanri.console.registry import schema
from kanri.serving.models import detect_format


def upload_model(ctx: Context, app_name: str, path: str | Path, description: str = "") -> tuple[ModelView, bool]:
    """Store a file as the application's next version; identical bytes return the existing version.

    Returns the version and whether it is new.
    """
    path = Path(path).expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise Invalid(f"cannot read model file {path}: it does not exist or is not a readable file")
    with ctx.registry.session() as session:
        get_app(session, app_name)  # fail before copying bytes for an application that does not exist
    stored = ctx.store.put_file(path)
    with change(ctx, "model.upload", f"{app_name}/{path.name}") as c:
        # Locks the application row: concurrent uploads take versions one after the other.
        app = get_app(c.session, app_name)
        c.session.refresh(app, with_for_update=True)
        existing = c.session.scalar(select(schema.Model).where(schema.Model.application_id == app.id,
                                                               schema.Model.sha256 == stored.sha256))
        if existing is not None:
            c.event.result = "unchanged"
            c.event.after = {"version": existing.version, "sha256": existing.sha256}
            return model_view(existing), False
        app.last_model_version += 1
        model = schema.Model(application=app, version=app.last_model_version, sha256=stored.sha256,
                             size=stored.size, format=detect_format(path), uri=stored.uri, filename=path.name,
                             description=description, created_by=ctx.actor)
        c.session.add(model)
        c.event.target = f"{app_name}/v{model.version}"
        c.event.after = {"version": model.version, "sha256": stored.sha256, "size": stored.size,
                         "format": model.format, "uri": stored.uri}
        c.session.flush()
        view = model_view(model)
    return view, True


def list_models(ctx: Context, app_name: str) -> list[ModelView]:
    with ctx.registry.session() as session:
        app = get_app(session, app_name)
        models = session.scalars(select(schema.Model).where(schema.Model.application_id == app.id)
                                 .order_by(schema.Model.version)
                                 .options(selectinload(schema.Model.evaluations))).all()
        users = _users(session, app.id)
        return [model_view(model, users.get(model.id)) for model in models]


def show_model(ctx: Context, app_name: str, version: int) -> ModelView:
    with ctx.registry.session() as session:
        app = get_app(session, app_name)
        model = get_model(session, app, version)
        return model_view(model, _users(session, app.id).get(model.id))


def _users(session: Session, app_id: int) -> dict[int, list[str]]:
    """Model id → the services that run it."""
    users: dict[int, list[str]] = {}
    for model_id, name in session.execute(select(schema.Service.model_id, schema.Service.name)
                                          .where(schema.Service.application_id == app_id)):
        users.setdefault(model_id, []).append(name)
    return users


def remove_model(ctx: Context, app_name: str, version: int) -> None:
    """Forget a version (its number is never given again); refused while a service runs it."""
    with change(ctx, "model.remove", f"{app_name}/v{version}") as c:
        app = get_app(c.session, app_name)
        model = get_model(c.session, app, version)
        users = _users(c.session, app.id).get(model.id)
        if users:
            raise Conflict(f"model {app_name} v{version} is in use by service(s) {', '.join(sorted(users))}; "
                           "switch them to another version first")
        c.event.before = {"version": model.version, "sha256": model.sha256, "uri": model.uri}
        shared = c.session.scalar(select(func.count()).select_from(schema.Model)
                                  .where(schema.Model.uri == model.uri, schema.Model.id != model.id))
        uri = model.uri
        c.session.delete(model)
    if not shared:
        ctx.store.remove(uri)
