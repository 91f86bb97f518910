"""Where the local cluster keeps its state, all under `{home}/local`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalPaths:
    home: Path

    @property
    def root(self) -> Path:
        return self.home / "local"

    @property
    def desired(self) -> Path:
        """What should run: written by LocalBackend under `desired_lock`, read by the supervisor."""
        return self.root / "desired.json"

    @property
    def desired_lock(self) -> Path:
        return self.root / "desired.lock"

    @property
    def observed(self) -> Path:
        """What runs: written by the supervisor only, read by LocalBackend."""
        return self.root / "observed.json"

    @property
    def routes(self) -> Path:
        """{"app/level": "127.0.0.1:PORT"} for serving.client.Client(app=..., service_level=...)."""
        return self.root / "routes.json"

    @property
    def supervisor_pid(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def supervisor_lock(self) -> Path:
        """Held by the running supervisor for its whole life: there is never a second one."""
        return self.root / "supervisor.lock"

    @property
    def supervisor_log(self) -> Path:
        return self.root / "supervisor.log"

    @property
    def logs(self) -> Path:
        """Every replica's log file lies below, as logs/APP/SERVICE/POD.log."""
        return self.root / "logs"

    def pod_log(self, app: str, service: str, pod: str) -> Path:
        """The layout console.telemetry's LocalFileLogs reads: keep it."""
        return self.logs / app / service / f"{pod}.log"

    def router_table(self, app: str, level: str) -> Path:
        return self.root / "routers" / app / f"{level}.json"

    def router_log(self, app: str, level: str) -> Path:
        return self.root / "routers" / app / f"{level}.log"
