"""The supervisor's side of routing: router processes per (application, level), sharing its ports, fed a table
file."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from .call_load import load_path
from .files import read_json
from .paths import LocalPaths
from .processes import BACKOFF_RESET_SECONDS, ProcessHandle, restart_delay
from .router_table import RouterTable, applied_path, table_identity
from .settings import SupervisorSettings
from .state import RouterProcess, RouterRecord

ROUTER_MODULE = "kanri.console.cluster.local.router"


class RouterInstance:
    """One process of a level's routers: restarted with back-off whenever it exits."""

    def __init__(self, index: int, process: RouterProcess, handle: ProcessHandle | None) -> None:
        self.index = index
        self.process = process
        self.handle = handle
        self.restart_at = 0.0
        self.started_at = 0.0
        self.failures_in_a_row = 0

    def alive(self) -> bool:
        return self.handle is not None and self.handle.alive()


class ManagedRouter:
    """A level's routers: settings.routers_per_level processes on the same ports, following one table file."""

    def __init__(self, record: RouterRecord, table_path: Path, count: int) -> None:
        """Adopts the recorded processes still running; those beyond count (the setting was lowered) are stopped,
        never left running unrecorded."""
        self.record = record
        self.table_path = table_path
        self.table: RouterTable | None = RouterTable.load(table_path) if table_path.exists() else None
        processes = record.processes + [RouterProcess() for _ in range(count - len(record.processes))]
        handles = [ProcessHandle.adopt(p.pid, p.create_time, str(table_path)) for p in processes]
        for surplus in handles[count:]:
            if surplus is not None:
                surplus.signal(signal.SIGTERM)
        record.processes = processes[:count]
        self.instances = [RouterInstance(i, process, handle)
                          for i, (process, handle) in enumerate(zip(processes[:count], handles, strict=False))]


class RouterManager:
    def __init__(self, paths: LocalPaths, settings: SupervisorSettings, records: dict[str, RouterRecord]) -> None:
        self.paths = paths
        self.settings = settings
        self.routers = {key: ManagedRouter(record, paths.router_table(record.app, record.level),
                                           settings.routers_per_level)
                        for key, record in records.items()}

    def alive(self) -> int:
        """Router processes running now."""
        return sum(instance.alive() for router in self.routers.values() for instance in router.instances)

    def reconcile(self, wanted: dict[str, tuple[RouterRecord, RouterTable]], now: float) -> None:
        """wanted: "app/level" → (the router, with its ports, and its table). Tables are written before anything
        else moves."""
        for key, (record, table) in wanted.items():
            router = self.routers.get(key)
            if router is None or (router.record.port, router.record.http_port) != (record.port, record.http_port):
                if router is not None:
                    self._stop(router)
                router = self.routers[key] = ManagedRouter(record, self.paths.router_table(record.app, record.level),
                                                           self.settings.routers_per_level)
            if table != router.table:
                table.save(router.table_path)
                router.table = table
            for instance in router.instances:
                self._keep_running(router.record, router.table_path, instance, now)
        for key in [k for k in self.routers if k not in wanted]:
            self._stop(self.routers.pop(key))

    def _keep_running(self, r: RouterRecord, table_path: Path, instance: RouterInstance, now: float) -> None:
        if instance.alive():
            if now - instance.started_at > BACKOFF_RESET_SECONDS:
                instance.failures_in_a_row = 0
            return
        if instance.handle is not None:
            instance.handle = None
            instance.process.restarts += 1
            instance.failures_in_a_row += 1
            instance.restart_at = now + restart_delay(instance.failures_in_a_row,
                                                      self.settings.restart_backoff_max_seconds)
        if now < instance.restart_at:
            return
        args = [sys.executable, "-m", ROUTER_MODULE, "--table", str(table_path), "--port", str(r.port),
                "--http-port", str(r.http_port), "--app", r.app, "--level", r.level, "--instance", str(instance.index),
                "--poll-seconds", str(self.settings.router_poll_seconds)]
        instance.handle = ProcessHandle.spawn(args, self.paths.router_log(r.app, r.level), dict(os.environ))
        instance.process.pid, instance.process.create_time = instance.handle.pid, instance.handle.create_time
        instance.started_at = now

    def _stop(self, router: ManagedRouter) -> None:
        for instance in router.instances:
            if instance.handle is not None:
                instance.handle.signal(signal.SIGTERM)
            applied_path(router.table_path, instance.index).unlink(missing_ok=True)
            load_path(router.table_path, instance.index).unlink(missing_ok=True)
        router.table_path.unlink(missing_ok=True)

    def applied(self, key: str) -> bool:
        """Whether every running router of key routes by the table last written for it (at least one runs; one
        starting again loads the table before it listens)."""
        router = self.routers.get(key)
        if router is None:
            return False
        running = [instance for instance in router.instances if instance.alive()]
        try:
            identity = table_identity(router.table_path)
            return bool(running) and all(read_json(applied_path(router.table_path, instance.index)) == identity
                                         for instance in running)
        except (OSError, ValueError):
            return False

    def stop_all(self) -> list[ProcessHandle]:
        """SIGTERM every router; the handles tell when they have exited."""
        for router in self.routers.values():
            self._stop(router)
        return [instance.handle for router in self.routers.values() for instance in router.instances
                if instance.handle is not None]

    def records(self) -> dict[str, RouterRecord]:
        return {key: router.record for key, router in self.routers.items()}
