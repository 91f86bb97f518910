"""Opening the registry database: reachability, schema version, migrations, sessions.

MySQL/MariaDB (via PyMySQL) in production, SQLite embedded. An embedded
SQLite registry upgrades itself on first use; a shared MySQL registry is only
upgraded by `kanri db upgrade`, so that one operator's newer kanri never
migrates everyone's database by surprise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from kanri.console.config import mask_password
from kanri.console.errors import Invalid, Unavailable

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutdated(Unavailable):
    pass


def create_registry_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise Invalid(f"{mask_password(url)} is not a database URL (use mysql+pymysql://… or sqlite:///…)") from exc
    options: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 30}
    elif parsed.get_backend_name() in ("mysql", "mariadb"):
        options["connect_args"] = {"connect_timeout": 5, "charset": "utf8mb4"}
        options["pool_recycle"] = 3600
    else:
        raise Invalid(f"unsupported registry database {parsed.get_backend_name()!r}: use mysql+pymysql:// or sqlite:///")
    engine = create_engine(parsed, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def current_revision(engine: Engine) -> str:
    with _connect(engine) as connection:
        return MigrationContext.configure(connection).get_current_revision() or ""


def upgrade(engine: Engine, to: str = "head") -> tuple[str, str]:
    """Apply every pending migration (up to `to`); returns (revision before, revision after)."""
    before = current_revision(engine)
    try:
        command.upgrade(_alembic_config(engine), to)
    except OperationalError as exc:
        raise _unreachable(engine, exc) from exc
    return before, current_revision(engine)


@contextmanager
def _connect(engine: Engine) -> Iterator[Any]:
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise _unreachable(engine, exc) from exc
    with connection:
        yield connection


def _unreachable(engine: Engine, exc: DBAPIError) -> Unavailable:
    reason = str(exc.orig).strip() or type(exc.orig).__name__
    where = mask_password(engine.url.render_as_string(hide_password=False))
    return Unavailable(f"cannot reach the registry database {where}: {reason}; "
                       "check that it is running and KANRI_DATABASE_URL is right")


class Registry:
    """An engine and its sessions, opened only once the schema is known to be current."""

    def __init__(self, url: str, *, auto_upgrade: bool = False) -> None:
        self.engine = create_registry_engine(url)
        current, head = current_revision(self.engine), head_revision()
        if current != head:
            if auto_upgrade:
                upgrade(self.engine)
            elif not current:
                raise SchemaOutdated(f"the registry database {self.where} has no kanri schema; "
                                     "run `kanri db upgrade` to create it")
            else:
                raise SchemaOutdated(f"the registry database {self.where} has schema {current}, this kanri needs "
                                     f"{head}; run `kanri db upgrade`")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def where(self) -> str:
        return mask_password(self.engine.url.render_as_string(hide_password=False))

    def session(self) -> Session:
        return self._sessions()

    def close(self) -> None:
        self.engine.dispose()
