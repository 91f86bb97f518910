"""The supervisor's side of routing: one router process per (application, level), fed a table file."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from .files import read_json
from .paths import LocalPaths
from .processes import BACKOFF_RESET_SECONDS, ProcessHandle, restart_delay
from .router_table import RouterTable, applied_path, table_identity
from .settings import SupervisorSettings
from .state import RouterRecord

ROUTER_MODULE = "kanri.console.cluster.local.router"


class ManagedRouter:
    def __init__(self, record: RouterRecord, handle: ProcessHandle | None, table_path: Path) -> None:
        self.record = record
        self.handle = handle
        self.table_path = table_path
        self.table: RouterTable | None = RouterTable.load(table_path) if table_path.exists() else None
        self.restart_at = 0.0
        self.started_at = 0.0
        self.failures_in_a_row = 0


class RouterManager:
    def __init__(self, paths: LocalPaths, settings: SupervisorSettings, records: dict[str, RouterRecord]) -> None:
        self.paths = paths
        self.settings = settings
        self.routers: dict[str, ManagedRouter] = {}
        for key, record in records.items():
            table_path = paths.router_table(record.app, record.level)
            handle = ProcessHandle.adopt(record.pid, record.create_time, str(table_path))
            self.routers[key] = ManagedRouter(record, handle, table_path)

    def reconcile(self, wanted: dict[str, tuple[RouterRecord, RouterTable]], now: float) -> None:
        """wanted: "app/level" → (the router, with its ports, and its table). Tables are written before anything
        else moves."""
        for key, (record, table) in wanted.items():
            router = self.routers.get(key)
            if router is None or (router.record.port, router.record.http_port) != (record.port, record.http_port):
                if router is not None:
                    self._stop(router)
                router = self.routers[key] = ManagedRouter(record, None, self.paths.router_table(record.app,
                                                                                                 record.level))
            if table != router.table:
                table.save(router.table_path)
                router.table = table
            self._keep_running(router, now)
        for key in [k for k in self.routers if k not in wanted]:
            self._stop(self.routers.pop(key))

    def _keep_running(self, router: ManagedRouter, now: float) -> None:
        if router.handle is not None and router.handle.alive():
            if now - router.started_at > BACKOFF_RESET_SECONDS:
                router.failures_in_a_row = 0
            return
        if router.handle is not None:
            router.handle = None
            router.record.restarts += 1
            router.failures_in_a_row += 1
            router.restart_at = now + restart_delay(router.failures_in_a_row, self.settings.restart_backoff_max_seconds)
        if now < router.restart_at:
            return
        r = router.record
        args = [sys.executable, "-m", ROUTER_MODULE, "--table", str(router.table_path), "--port", str(r.port),
                "--http-port", str(r.http_port), "--app", r.app, "--level", r.level,
                "--poll-seconds", str(self.settings.router_poll_seconds)]
        router.handle = ProcessHandle.spawn(args, self.paths.router_log(r.app, r.level), dict(os.environ))
        r.pid, r.create_time = router.handle.pid, router.handle.create_time
        router.started_at = now

    def _stop(self, router: ManagedRouter) -> None:
        if router.handle is not None:
            router.handle.signal(signal.SIGTERM)
        router.table_path.unlink(missing_ok=True)
        applied_path(router.table_path).unlink(missing_ok=True)

    def applied(self, key: str) -> bool:
        """Whether the router of key routes by the table last written for it."""
        router = self.routers.get(key)
        if router is None:
            return False
        try:
            return read_json(applied_path(router.table_path)) == table_identity(router.table_path)
        except (OSError, ValueError):
            return False

    def stop_all(self) -> list[ProcessHandle]:
        """SIGTERM every router; the handles tell when they have exited."""
        for router in self.routers.values():
            self._stop(router)
        return [router.handle for router in self.routers.values() if router.handle is not None]

    def records(self) -> dict[str, RouterRecord]:
        return {key: router.record for key, router in self.routers.items()}
