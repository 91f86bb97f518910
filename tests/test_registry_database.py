"""The registry database on SQLite and MariaDB: schema creation, versions, timestamps, a dead server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from kanri.console.errors import Invalid, Unavailable
from kanri.console.registry import schema
from kanri.console.registry.database import Registry, SchemaOutdated, create_registry_engine, head_revision, upgrade


def test_a_database_without_the_schema_is_refused_until_upgraded(registry_url: str) -> None:
    with pytest.raises(SchemaOutdated, match="run `kanri db upgrade`"):
        Registry(registry_url)
    engine = create_registry_engine(registry_url)
    assert upgrade(engine) == ("", head_revision())
    assert upgrade(engine) == (head_revision(), head_revision())  # idempotent
    engine.dispose()
    Registry(registry_url).close()


def test_an_embedded_registry_upgrades_itself(registry_url: str) -> None:
    registry = Registry(registry_url, auto_upgrade=True)
    with registry.session() as session:
        assert session.scalars(select(schema.Application)).all() == []
    registry.close()


def test_services_of_an_older_schema_keep_scaling_on_cpu(registry_url: str) -> None:
    engine = create_registry_engine(registry_url)
    upgrade(engine, "0002")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO applications (name, predictor, description, image, created_at, "
                                "last_model_version) VALUES ('a', 'm:C', '', '', '2026-12-01', 1)"))
        connection.execute(text("INSERT INTO models (application_id, version, sha256, size, format, uri, filename, "
                                "description, created_at, created_by) VALUES (1, 1, '', 0, 'file', 'file:///m', 'm', "
                                "'', '2026-12-01', '')"))
        connection.execute(text(
            "INSERT INTO services (application_id, name, level, model_id, replicas, min_replicas, max_replicas, "
            "autoscale, cpu_threshold, cpu_request, cpu_limit, memory_request, memory_limit, gpus, max_surge, "
            "max_unavailable, min_ready_seconds, port, image, memo, converged, cluster_error, created_at, updated_at,"
            " version) VALUES (1, 's', 'development', 1, 2, 1, 3, 1, 70, '', '', '', '', 0, 1, 0, 0, 50051, '', '',"
            " 1, '', '2026-12-01', '2026-12-01', 1)"))
    assert upgrade(engine) == ("0002", head_revision())
    engine.dispose()
    registry = Registry(registry_url)
    with registry.session() as session:
        service = session.scalars(select(schema.Service)).one()
        assert (service.scale_metric, service.scale_target, service.scale_to_zero_after, service.cpu_threshold) == (
            "cpu", 0.0, 0.0, 70)
    registry.close()


def test_a_schema_of_another_version_names_both_versions(registry_url: str) -> None:
    Registry(registry_url, auto_upgrade=True).close()
    engine = create_registry_engine(registry_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    with pytest.raises(SchemaOutdated, match=f"has schema 0000, this kanri needs {head_revision()}"):
        Registry(registry_url)


def test_timestamps_come_back_as_aware_utc_with_microseconds(registry_url: str) -> None:
    registry = Registry(registry_url, auto_upgrade=True)
    moment = datetime(2026, 11, 23, 10, 11, 12, 345678, tzinfo=UTC)
    with registry.session() as session:
        session.add(schema.AuditEvent(time=moment, actor="a", action="x", target="t", result="ok"))
        session.commit()
    with registry.session() as session:
        assert session.scalar(select(schema.AuditEvent.time)) == moment
    registry.close()


def test_a_dead_database_server_gets_one_clear_line_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"cannot reach the registry database mysql\+pymysql://root@127.0.0.1:9/x"):
        Registry("mysql+pymysql://root@127.0.0.1:9/x")
    assert time.monotonic() - started < 10


def test_passwords_never_appear_in_errors() -> None:
    with pytest.raises(Unavailable) as caught:
        Registry("mysql+pymysql://root:hunter2@127.0.0.1:9/x")
    assert "hunter2" not in str(caught.value) and "root:***@" in str(caught.value)


def test_an_unsupported_url_is_refused() -> None:
    with pytest.raises(Invalid, match="unsupported registry database"):
        create_registry_engine("postgresql://localhost/x")
    with pytest.raises(Invalid, match="is not a database URL"):
        create_registry_engine("not a url")
