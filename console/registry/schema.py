"""The registry's tables as SQLAlchemy 2 typed models; Alembic migrations create them.

Types are chosen to mean the same on MySQL/MariaDB and SQLite: bounded
VARCHARs, JSON columns, and timestamps stored as naive UTC with microseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Double, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAME = 63  # a DNS label


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("registry timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {datetime: UtcDateTime, dict[str, Any]: JSON, str: String(255)}


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    predictor: Mapped[str] = mapped_column(String(1024))
    image: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The highest version ever given, so that a removed version's number is never reused.
    last_model_version: Mapped[int] = mapped_column(default=0)

    models: Mapped[list[Model]] = relationship(back_populates="application", order_by="Model.version")
    services: Mapped[list[Service]] = relationship(back_populates="application", order_by="Service.name")


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("application_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(mysql.BIGINT().with_variant(Integer, "sqlite"))
    format: Mapped[str] = mapped_column(String(32))
    uri: Mapped[str] = mapped_column(String(1024))
    filename: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME), default="")

    application: Mapped[Application] = relationship(back_populates="models")
    evaluations: Mapped[list[Evaluation]] = relationship(back_populates="model", order_by="Evaluation.id",
                                                         cascade="all, delete-orphan")


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("application_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    level: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    previous_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    replicas: Mapped[int] = mapped_column(default=1)
    min_replicas: Mapped[int] = mapped_column(default=1)
    max_replicas: Mapped[int] = mapped_column(default=1)
    autoscale: Mapped[bool] = mapped_column(default=False)
    cpu_threshold: Mapped[int] = mapped_column(default=80)
    scale_metric: Mapped[str] = mapped_column(String(16), default="cpu")
    scale_target: Mapped[float] = mapped_column(Double, default=0.0)
    scale_to_zero_after: Mapped[float] = mapped_column(Double, default=0.0)
    cpu_request: Mapped[str] = mapped_column(String(32), default="")
    cpu_limit: Mapped[str] = mapped_column(String(32), default="")
    memory_request: Mapped[str] = mapped_column(String(32), default="")
    memory_limit: Mapped[str] = mapped_column(String(32), default="")
    gpus: Mapped[int] = mapped_column(default=0)
    max_surge: Mapped[int] = mapped_column(default=1)
    max_unavailable: Mapped[int] = mapped_column(default=0)
    min_ready_seconds: Mapped[int] = mapped_column(default=0)
    port: Mapped[int] = mapped_column(default=50051)
    image: Mapped[str] = mapped_column(String(512), default="")
    memo: Mapped[str] = mapped_column(Text, default="")
    # False while the cluster has not accepted the desired state written here.
    converged: Mapped[bool] = mapped_column(default=False)
    cluster_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    application: Mapped[Application] = relationship(back_populates="services")
    model: Mapped[Model] = relationship(foreign_keys=[model_id])
    previous_model: Mapped[Model | None] = relationship(foreign_keys=[previous_model_id])

    __mapper_args__: ClassVar = {"version_id_col": version}


class Route(Base):
    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("application_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))
    mirror_service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    mirror_percent: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)

    application: Mapped[Application] = relationship()
    mirror_service: Mapped[Service | None] = relationship()
    weights: Mapped[list[RouteWeight]] = relationship(back_populates="route", cascade="all, delete-orphan",
                                                      order_by="RouteWeight.service_id")

    __mapper_args__: ClassVar = {"version_id_col": version}


class ServiceObjective(Base):
    """A service's SLO: the share of calls answered without a server fault, and the share answered in time.

    Percentages as operators write them (99.9, not 0.999); the latency threshold is a bucket bound of the
    runtime's latency histogram, so the share under it is exact rather than interpolated.
    """

    __tablename__ = "service_objectives"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    availability_percent: Mapped[float] = mapped_column(Double)
    latency_ms: Mapped[float] = mapped_column(Double)
    latency_percent: Mapped[float] = mapped_column(Double)
    window_days: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    service: Mapped[Service] = relationship()


class RouteWeight(Base):
    __tablename__ = "route_weights"

    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id", ondelete="CASCADE"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    weight: Mapped[int]

    route: Mapped[Route] = relationship(back_populates="weights")
    service: Mapped[Service] = relationship()


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    data_uri: Mapped[str] = mapped_column(String(1024))
    data_sha256: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME), default="")

    model: Mapped[Model] = relationship(back_populates="evaluations")


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(NAME))
    action: Mapped[str] = mapped_column(String(NAME))
    target: Mapped[str] = mapped_column(String(255))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(Text, default="")
