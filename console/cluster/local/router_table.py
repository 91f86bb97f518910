"""What a router needs to know, written by the supervisor and watched by the router process."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from .files import read_json, write_json


def table_identity(path: Path) -> list[int]:
    """Which version of a table file this is: every save replaces the file, so inode and mtime change."""
    stat = path.stat()
    return [stat.st_ino, stat.st_mtime_ns]


def applied_path(table_path: Path, instance: int) -> Path:
    """Where a level's router number `instance` acknowledges the table it routes by: the identity of the file it
    loaded."""
    return table_path.with_suffix(f".applied-{instance}")


@dataclass(frozen=True)
class RouterTable:
    """Weights over the services of one application at one level, and each service's ready replicas."""

    weights: dict[str, int] = field(default_factory=dict)
    backends: dict[str, list[str]] = field(default_factory=dict)
    """Each service's ready replicas by their gRPC address, which names a replica everywhere in the router."""
    http: dict[str, str] = field(default_factory=dict)
    """Each replica's HTTP address ("host:port"), by its gRPC address."""
    mirror: str = ""
    mirror_percent: int = 0
    dormant: list[str] = field(default_factory=list)
    """Services at zero replicas that may wake (autoscaled on calls, min 0): their share of calls is held until
    a replica is ready, rather than given to the others."""
    failing: dict[str, str] = field(default_factory=dict)
    """Why a dormant service's replica cannot start (a crash loop): its held calls are refused with this."""
    wake_port: int = 0
    """The supervisor's loopback UDP port: a router that holds a call says so there, so that the supervisor
    reads the counts at once rather than at its next tick (0: none)."""

    @classmethod
    def load(cls, path: Path) -> RouterTable:
        """Fields this version does not know (a newer supervisor adopted this router) are left out, not fatal."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in read_json(path, {}).items() if name in known})

    def save(self, path: Path) -> None:
        write_json(path, dataclasses.asdict(self))
