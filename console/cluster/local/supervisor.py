"""The supervisor process: reconciles what runs with desired.json, in a loop, and reports it in observed.json.

It starts, heals, rolls and scales replicas, runs one router per (application,
level), and writes what it sees atomically for LocalBackend to read. Replicas
and routers run in sessions of their own, so they keep serving when the
supervisor exits; a new supervisor adopts them from observed.json (pid and
start time, checked against the live process).

SIGTERM/SIGINT stop everything (`kanri local down`); SIGUSR1 stops only the
supervisor and leaves replicas and routers serving, to be adopted again.

Run as `python -m kanri.console.cluster.local.supervisor --home KANRI_HOME`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .autoscaler import CpuMeter
from .call_autoscaler import Sample
from .call_load import LevelLoad, load_path
from .files import read_json, write_json
from .paths import LocalPaths
from .processes import start_time
from .router_manager import RouterManager
from .router_table import RouterTable
from .service import ServiceController
from .settings import SupervisorSettings
from .state import Desired, Observed, RouterRecord, key

log = logging.getLogger("kanri.local.supervisor")

EARLY_STOPS: list[bool] = []
"""Stops asked for between the pid file's writing and the loop's own handlers (keep serving or not): whoever
reads the pid file may signal at once, and Python's default would end the process without stopping anything."""
WAKING_TICK_SECONDS = 0.05
"""The tick while a service at zero holds calls: its first replica is seen ready, and the calls go on, sooner."""


class Supervisor:
    def __init__(self, paths: LocalPaths, settings: SupervisorSettings) -> None:
        self.paths = paths
        self.settings = settings
        observed = Observed.load(paths.observed)
        self.services = {k: ServiceController.adopt(record, paths, settings)
                         for k, record in observed.services.items()}
        self.routers = RouterManager(paths, settings, observed.routers)
        self.routes = observed.routes
        self.meter = CpuMeter()
        self.loads: dict[str, LevelLoad] = {}
        self.wake_port = 0
        """Where routers holding a call nudge the loop (WakeListener), once it listens."""
        self._desired = Desired()
        self._desired_seen: tuple[int, int] | None = None
        self._written: dict | None = None
        self._addresses: dict[str, str] | None = read_json(paths.routes, None)
        adopted = sum(r.handle is not None for c in self.services.values() for r in c.replicas)
        if adopted or self.routers.routers:
            log.info("adopted %d running replicas and %d routers", adopted, self.routers.alive())

    def desired(self) -> Desired:
        try:
            stat = os.stat(self.paths.desired)
        except FileNotFoundError:
            return self._desired
        if (stat.st_ino, stat.st_mtime_ns) != self._desired_seen:
            self._desired = Desired.load(self.paths.desired)
            self._desired_seen = (stat.st_ino, stat.st_mtime_ns)
        return self._desired

    async def tick(self) -> None:
        now = time.time()
        desired = self.desired()
        for k, wanted in desired.services.items():
            if k not in self.services:
                self.services[k] = ServiceController.create(wanted, self.paths, self.settings, now)
            self.services[k].observe(wanted, now)
        for k, controller in self.services.items():
            if k not in desired.services and not controller.deleted:
                controller.delete(now)
        controllers = list(self.services.values())
        for controller in controllers:
            await controller.heal(now)
        await asyncio.gather(*(c.probe(now) for c in controllers))
        self.read_loads()
        for controller in controllers:
            controller.autoscale(self.meter, now)
            controller.roll(now)
            await controller.reap(now)
            controller.update_status(now)
        self.services = {k: c for k, c in self.services.items() if not c.finished}
        self.meter.forget_except({r.record.pid or 0 for c in controllers for r in c.replicas})
        tables = self.router_tables(desired)
        self.routers.reconcile(tables, now)
        self.report_routes(desired, tables)
        self.write_observed()

    @property
    def waking(self) -> bool:
        """A service without a ready replica holds calls in its routers (bounded by their deadlines)."""
        return any(c.dormant and load.held.get(c.spec.name, 0) for c in self.services.values()
                   if (load := self.loads.get(key(c.spec.app, c.spec.level))) is not None)

    def read_loads(self) -> None:
        """Feed the calls the routers counted to the services that scale on them, stamped when read: the
        probes before may have taken a while."""
        levels = {key(c.spec.app, c.spec.level) for c in self.services.values() if c.scales_on_calls}
        self.loads = {k: self.loads.get(k) or LevelLoad() for k in levels}
        now = time.time()
        for level_key, load in self.loads.items():
            app, level = level_key.split("/")
            table = self.paths.router_table(app, level)
            load.read([load_path(table, i) for i in range(self.settings.routers_per_level)], now)
        for controller in self.services.values():
            if (load := self.loads.get(key(controller.spec.app, controller.spec.level))) is not None:
                name = controller.spec.name
                controller.autoscale_on_calls(Sample(now, load.started.get(name, 0), load.busy_now(name),
                                                     load.held.get(name, 0)))

    def router_tables(self, desired: Desired) -> dict[str, tuple[RouterRecord, RouterTable]]:
        """A router per app/level that has services, with its table: the route's weights (equal ones without a
        route) over the ready replicas."""
        levels: dict[str, list[ServiceController]] = {}
        for controller in self.services.values():
            if not controller.deleted:
                levels.setdefault(key(controller.spec.app, controller.spec.level), []).append(controller)
        tables = {}
        for level_key, controllers in levels.items():
            if level_key not in desired.router_ports:
                continue
            spec = controllers[0].spec
            route = desired.routes.get(level_key)
            ready = {c.spec.name: c.ready_replicas() for c in controllers}
            backends = {name: [r.address for r in replicas] for name, replicas in ready.items()}
            http = {r.address: r.http_address for replicas in ready.values() for r in replicas if r.record.http_port}
            sleeping = [c for c in controllers if c.dormant]
            dormant = sorted(c.spec.name for c in sleeping)
            failing = {c.spec.name: failure for c in sleeping if (failure := c.start_failure())}
            table = (RouterTable(route.weights, backends, http, route.mirror, route.mirror_percent, dormant, failing,
                                 self.wake_port)
                     if route else RouterTable(dict.fromkeys(backends, 1), backends, http, dormant=dormant,
                                               failing=failing, wake_port=self.wake_port))
            router = RouterRecord(spec.app, spec.level, desired.router_ports[level_key],
                                  desired.router_http_ports.get(level_key, 0))
            tables[level_key] = (router, table)
        return tables

    def report_routes(self, desired: Desired, tables: dict[str, tuple[RouterRecord, RouterTable]]) -> None:
        """A route counts as applied once its router acknowledged the table that carries it."""
        self.routes = {k: route for k, route in self.routes.items() if k in tables}
        for level_key in tables:
            if self.routers.applied(level_key):
                if level_key in desired.routes:
                    self.routes[level_key] = desired.routes[level_key]
                else:
                    self.routes.pop(level_key, None)

    def write_observed(self) -> None:
        observed = Observed(services={k: c.record for k, c in self.services.items()},
                            routers=self.routers.records(), routes=self.routes).to_dict()
        if observed != self._written:
            write_json(self.paths.observed, observed)
            self._written = observed
        addresses = {k: f"127.0.0.1:{r.port}" for k, r in self.routers.records().items()}
        if addresses != self._addresses:
            write_json(self.paths.routes, addresses)
            self._addresses = addresses

    async def stop_everything(self) -> None:
        """Drain and stop every replica and router, waiting (bounded) until they exited."""
        now = time.time()
        for controller in self.services.values():
            controller.delete(now)
        routers = self.routers.stop_all()
        deadline = now + self.settings.drain_delay_seconds + self.settings.grace_seconds + 10.0
        while (any(c.replicas for c in self.services.values()) or any(h.alive() for h in routers)) \
                and time.time() < deadline:
            for controller in self.services.values():
                await controller.reap(time.time())
            await asyncio.sleep(0.1)
        for path in (self.paths.observed, self.paths.routes):
            path.unlink(missing_ok=True)


async def supervise(paths: LocalPaths, settings: SupervisorSettings) -> None:
    supervisor = Supervisor(paths, settings)
    nudge = asyncio.Event()  # set by a stop, and by a router holding a call: the loop goes round at once
    stopping = keep_running = False

    def leave(keep: bool) -> None:
        nonlocal stopping, keep_running
        stopping, keep_running = True, keep
        nudge.set()

    loop = asyncio.get_running_loop()
    listener, _ = await loop.create_datagram_endpoint(lambda: WakeListener(nudge), local_addr=("127.0.0.1", 0))
    supervisor.wake_port = listener.get_extra_info("sockname")[1]
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, leave, False)
    loop.add_signal_handler(signal.SIGUSR1, leave, True)
    if EARLY_STOPS:  # asked to stop before the loop listened (the pid file is written first)
        leave(EARLY_STOPS[-1])
    log.info("supervising %s (pid %d)", paths.root, os.getpid())
    while not stopping:
        began = loop.time()
        try:
            await supervisor.tick()
        except Exception:  # one bad tick (a file being replaced, a process racing) must not end supervision
            log.exception("reconcile failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(nudge.wait(), WAKING_TICK_SECONDS if supervisor.waking else settings.tick_seconds)
        nudge.clear()
        if not stopping and (early := began + WAKING_TICK_SECONDS - loop.time()) > 0:
            await asyncio.sleep(early)  # nudges, however many, never tick faster than while waking
    listener.close()
    if keep_running:
        log.info("stopping the supervisor only: replicas and routers keep serving")
    else:
        log.info("stopping every replica and router")
        await supervisor.stop_everything()


class WakeListener(asyncio.DatagramProtocol):
    """Any datagram on the wake port (routers send one when they hold a call) ends the loop's rest."""

    def __init__(self, nudge: asyncio.Event) -> None:
        self.nudge = nudge

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.nudge.set()


def replace_stale_pid_file(paths: LocalPaths) -> None:
    """Holding the lock, any pid file found is a previous supervisor's that could not remove it (SIGKILL): say so."""
    if stale := read_json(paths.supervisor_pid, None):
        log.warning("replacing the stale pid file %s of supervisor pid %s, which is gone (killed?); "
                    "adopting what it left running", paths.supervisor_pid, stale.get("pid"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    paths = LocalPaths(parser.parse_args().home)
    from kanri.serving import logs

    logs.configure("kanri", "local-supervisor", "development")
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.supervisor_lock, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.exit(f"a supervisor already runs for {paths.root}")
        replace_stale_pid_file(paths)
        for sig, keep in ((signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGUSR1, True)):
            signal.signal(sig, lambda _signum, _frame, keep=keep: EARLY_STOPS.append(keep))
        write_json(paths.supervisor_pid, {"pid": os.getpid(), "create_time": start_time(os.getpid())})
        try:
            asyncio.run(supervise(paths, SupervisorSettings.from_env()))
        finally:
            paths.supervisor_pid.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
