"""Fault injection: kill one kanri process under steady load and measure what is lost and what is left behind.

Shared by tests/test_faults.py (which asserts the goals) and bench/faults.py
(which prints the table). Two systems are hit: the local cluster (an echo
service of two replicas behind its level's router, run through the `kanri` CLI
so that `kanri sync` can compare registry and cluster) and a lone
`kanri serve --workers 2`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from click.testing import CliRunner

from kanri.console.cli import main as kanri_main
from kanri.console.cluster.local.control import (
    kill_leftovers,
    processes_naming,
    running_supervisor,
    start_supervisor,
    stop_supervisor,
)
from kanri.console.cluster.local.paths import LocalPaths
from kanri.console.cluster.local.state import Observed
from tests.support.backends import FAST
from tests.support.load import SteadyLoad
from tests.support.servers import PREDICTORS, start_serve
from tests.support.terminal import terminal

ROOT = Path(__file__).resolve().parents[2]
APP, SERVICE, SPARE, LEVEL = "echo", "echo-prod", "echo-spare", "production"
OBSERVE_SECONDS = 3.5
"""How long the load runs after a kill: longer than the 3 s the service has to be back."""
SETTLE_SECONDS = 60.0
"""Bound on everything waiting for a (slow, shared) machine to converge again."""


@dataclass(frozen=True)
class Fault:
    target: str
    """"replica", "router", "supervisor", "cli switch", "cli weights", "console" (local cluster); "serve parent",
    "worker"."""
    signal: signal.Signals
    client_retries: int = 3
    """0 where the server side alone must hide the fault (the router retrying on another replica)."""
    down_by_design: str = ""
    """Why nothing brings the service back (a lone server killed; `kanri local down`): recovery not measured."""

    @property
    def id(self) -> str:
        return f"{self.target.replace(' ', '-')}-{self.signal.name}"

    @property
    def on_cluster(self) -> bool:
        return self.target not in ("serve parent", "worker")


@dataclass
class Outcome:
    fault: Fault
    calls: int
    failed: int
    recovery_seconds: float | None
    orphans: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    """Listening ports the killed processes held that still answer, though nothing should own them."""
    consistent: bool | None = None
    """`kanri sync` finds the registry and the cluster agree once the cluster settled (None: no registry)."""
    notes: list[str] = field(default_factory=list)
    """What went wrong: the failed calls' errors, drift, replicas replaced rather than adopted."""


FAULTS = [
    *(Fault("replica", s, client_retries=0) for s in (signal.SIGKILL, signal.SIGTERM)),
    *(Fault("router", s) for s in (signal.SIGKILL, signal.SIGTERM)),
    Fault("supervisor", signal.SIGKILL),
    Fault("supervisor", signal.SIGTERM, down_by_design="SIGTERM is `kanri local down`: everything stops"),
    *(Fault(cli, s) for cli in ("cli switch", "cli weights") for s in (signal.SIGKILL, signal.SIGTERM)),
    *(Fault("console", s) for s in (signal.SIGKILL, signal.SIGTERM)),
    *(Fault("serve parent", s, down_by_design="a lone `kanri serve` has no one to restart it")
      for s in (signal.SIGKILL, signal.SIGTERM)),
    *(Fault("worker", s) for s in (signal.SIGKILL, signal.SIGTERM)),
]


def wait_for(check: Callable[[], object], what: str, timeout: float = SETTLE_SECONDS) -> object:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.05)
    return found


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def listening_ports(process: psutil.Process | int) -> list[int]:
    with contextlib.suppress(psutil.Error):
        process = process if isinstance(process, psutil.Process) else psutil.Process(process)
        return [c.laddr.port for c in process.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    return []


def describe(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"pid {process.pid}: {' '.join(process.cmdline())[:160]}"
    return f"pid {process.pid}"


class LocalCluster:
    """An echo service of two replicas (and a spare service at weight 0) on the local cluster in tmp/home, set up
    and inspected through the `kanri` CLI the way a user runs it."""

    def __init__(self, tmp: Path, models: dict[str, Path]) -> None:
        self.home = tmp / "home"
        self.paths = LocalPaths(self.home)
        self.env: dict[str, str | None] = {
            "KANRI_HOME": str(self.home), "XDG_CONFIG_HOME": str(tmp / "config"), **FAST.to_env(),
            **dict.fromkeys(("KANRI_DATABASE_URL", "KANRI_CONFIG", "KANRI_CLUSTER", "KANRI_MODEL_STORE"))}
        self.kanri("app", "create", APP, "--predictor", f"{PREDICTORS}:Echo")
        for version in ("v1", "v2"):
            self.kanri("model", "upload", APP, str(models[version]))
        self.kanri("service", "create", APP, SERVICE, "--level", LEVEL, "--model", "1", "--replicas", "2")
        self.kanri("service", "create", APP, SPARE, "--level", LEVEL, "--model", "1")
        self.kanri("weights", APP, LEVEL, f"{SERVICE}=100", f"{SPARE}=0")

    def kanri(self, *args: str) -> str:
        result = CliRunner().invoke(kanri_main, list(args), prog_name="kanri", env=self.env, catch_exceptions=False)
        assert result.exit_code == 0, f"kanri {' '.join(args)}: {result.stderr}"
        return result.stdout

    def process_env(self) -> dict[str, str]:
        """The environment of a `kanri` process of this cluster's: this one's, with the cluster's variables."""
        return {k: v for k, v in {**os.environ, **self.env}.items() if v is not None}

    def kanri_argv(self, *args: str) -> list[str]:
        return [sys.executable, "-c", "from kanri.serving.entry import main; main()", *args]

    def kanri_process(self, *args: str) -> subprocess.Popen:
        """`kanri ARGS` as a process of its own, to be killed mid-way."""
        return subprocess.Popen(self.kanri_argv(*args), cwd=ROOT, env=self.process_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    @property
    def address(self) -> str:
        return json.loads(self.paths.routes.read_text())[f"{APP}/{LEVEL}"]

    def observed(self) -> Observed:
        return Observed.load(self.paths.observed)

    def replica_pids(self) -> set[int]:
        return {p.pid for s in self.observed().services.values() for p in s.pods if p.pid}

    def router_pids(self) -> set[int]:
        return {process.pid or 0 for router in self.observed().routers.values() for process in router.processes}

    def busiest_router(self) -> int:
        """The router holding the most client connections: the one the load goes through (the level has two)."""
        port = int(self.address.rsplit(":", 1)[1])

        def clients(pid: int) -> int:
            return sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
                       for c in psutil.Process(pid).net_connections("tcp"))

        return max(sorted(self.router_pids()), key=clients)

    def settled(self) -> bool:
        """Every service converged with all its replicas ready, none leaving, and the router up."""
        observed = self.observed()
        services = observed.services.values()
        return (len(services) == 2 and all(s.rollout.get("converged") and len(s.pods) == s.replicas
                                           and all(p.ready and p.terminating_since is None for p in s.pods)
                                           for s in services)
                and bool(observed.routers) and all(psutil.pid_exists(pid) for pid in self.router_pids())
                and f"{APP}/{LEVEL}" in observed.routes)

    def settle(self) -> None:
        """Back to the steady state, the supervisor started again where it is gone (as any `kanri` command does)."""
        if running_supervisor(self.paths) is None:
            start_supervisor(self.paths, FAST)
        wait_for(self.settled, "the cluster settles")
        port = int(self.address.rsplit(":", 1)[1])
        wait_for(lambda: all(port in listening_ports(pid) for pid in self.router_pids()),
                 "both routers listen")

    def orphans(self) -> list[psutil.Process]:
        """Processes naming the home that the supervisor does not know of (nor is: the supervisor itself)."""
        supervisor = running_supervisor(self.paths)
        known = self.replica_pids() | self.router_pids()
        known.add(supervisor.pid if supervisor else 0)
        return [p for p in processes_naming(self.home) if p.pid not in known]

    def drift(self) -> list[dict]:
        return json.loads(self.kanri("sync", "--json"))["drift"]

    def unconverged(self) -> list[str]:
        """The services the registry does not know converged (after `kanri sync` confirmed what it could)."""
        return [s["name"] for s in json.loads(self.kanri("service", "list", "--json")) if not s["converged"]]

    def close(self) -> list[psutil.Process]:
        """`kanri local down`; returns what still runs after it (nothing, if no process is orphaned)."""
        try:
            stop_supervisor(self.paths, timeout=30)
            return [p for p in processes_naming(self.home) if not _ends(p, 5.0)]
        finally:
            kill_leftovers(self.paths)


def _ends(process: psutil.Process, timeout: float) -> bool:
    with contextlib.suppress(psutil.Error):
        process.wait(timeout)
    return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


@contextlib.contextmanager
def warm_load(target: str, retries: int) -> Iterator[SteadyLoad]:
    """Steady load that already answers."""
    with SteadyLoad(target, retries=retries) as load:
        start = time.monotonic()
        wait_for(lambda: load.succeeded_since(start) >= 10, f"calls to {target} succeed", 30)
        yield load


def _measure(fault: Fault, load: SteadyLoad, killed_at: float) -> Outcome:
    load.stop()
    failures = load.failures(killed_at)
    return Outcome(fault, sum(1 for c in load.calls if c.ended >= killed_at), len(failures),
                   None if fault.down_by_design else load.recovery_seconds(killed_at),
                   notes=sorted({c.error for c in failures})[:3])


def _leftovers(outcome: Outcome, orphans: list[psutil.Process]) -> None:
    outcome.ports += [port for p in orphans for port in listening_ports(p)]
    outcome.orphans += [describe(p) for p in orphans]


def run_cluster_fault(cluster: LocalCluster, fault: Fault) -> Outcome:
    """Settle, load, hit the fault's process, keep the load OBSERVE_SECONDS, settle again and look around."""
    cluster.settle()
    replicas_before = cluster.replica_pids()
    with warm_load(cluster.address, fault.client_retries) as load:
        killed_at, victim = _hit_cluster(cluster, fault)
        if fault.target == "supervisor" and fault.signal == signal.SIGKILL:
            time.sleep(1.0)
            start_supervisor(cluster.paths, FAST)  # what the next `kanri` command does
        time.sleep(max(0.0, killed_at + OBSERVE_SECONDS - time.monotonic()))
        outcome = _measure(fault, load, killed_at)
    gone_for_good = [p for p in [victim] if p is not None and not _ends(p, 30.0)]
    if fault.down_by_design:
        _leftovers(outcome, [p for p in processes_naming(cluster.home) if not _ends(p, 30.0)])
    cluster.settle()
    if fault.target == "supervisor" and fault.signal == signal.SIGKILL:
        if cluster.replica_pids() != replicas_before:
            outcome.notes.append(f"replicas not adopted: {sorted(replicas_before)} → {sorted(cluster.replica_pids())}")
        if "stale pid file" not in cluster.paths.supervisor_log.read_text():
            outcome.notes.append("the restarted supervisor did not report the stale pid file")
    _leftovers(outcome, gone_for_good + cluster.orphans())
    drift, unconverged = cluster.drift(), cluster.unconverged()
    outcome.consistent = not drift and not unconverged
    outcome.notes += [f"drift: {d}" for d in drift] + [f"not converged after sync: {name}" for name in unconverged]
    return outcome


def _hit_cluster(cluster: LocalCluster, fault: Fault) -> tuple[float, psutil.Process | None]:
    """Send the fault's signal to its process; (when, the process if it must end)."""
    if fault.target.startswith("cli"):
        return _interrupt_cli(cluster, fault)
    if fault.target == "console":
        return _kill_console(cluster, fault)
    if fault.target == "replica":
        pid = min(p.pid or 0 for p in cluster.observed().services[f"{APP}/{SERVICE}"].pods)
    elif fault.target == "router":
        pid = cluster.busiest_router()
    else:
        supervisor = running_supervisor(cluster.paths)
        assert supervisor is not None
        pid = supervisor.pid
    process = psutil.Process(pid)
    process.send_signal(fault.signal)
    return time.monotonic(), process


def _interrupt_cli(cluster: LocalCluster, fault: Fault) -> tuple[float, psutil.Process | None]:
    """Run the change in a `kanri` process and kill it as soon as it told the cluster (desired.json changed)."""
    observed = cluster.observed()
    if fault.target == "cli switch":
        version = observed.services[f"{APP}/{SERVICE}"].spec["model"]["version"]
        args = ["switch", APP, SERVICE, str(3 - version)]
    else:
        spare = observed.routes[f"{APP}/{LEVEL}"].weights.get(SPARE, 0)
        args = ["weights", APP, LEVEL, f"{SERVICE}={100 - (10 - spare)}", f"{SPARE}={10 - spare}"]
    seen = cluster.paths.desired.stat().st_mtime_ns
    process = cluster.kanri_process(*args)
    try:
        wait_for(lambda: cluster.paths.desired.stat().st_mtime_ns != seen or process.poll() is not None,
                 f"kanri {' '.join(args)} writes desired.json", 30)
        process.send_signal(fault.signal)
        return time.monotonic(), psutil.Process(process.pid) if process.poll() is None else None
    finally:
        process.wait(10)


def _kill_console(cluster: LocalCluster, fault: Fault) -> tuple[float, psutil.Process | None]:
    """`kanri console` in an 80x24 terminal (tmux), killed once it shows the level's services live."""
    env = " ".join(f"{name}={shlex.quote(value)}" for name, value in cluster.process_env().items())
    command = " ".join(["exec env -i", env, "TERM=xterm-256color", *map(shlex.quote, cluster.kanri_argv("console"))])
    with terminal(f"kanri-faults-{os.getpid()}", command, (80, 24), ROOT) as term:
        console = psutil.Process(term.pane_pid())  # exec: the pane's process is the console
        try:
            term.wait_for(SPARE, timeout=60)
            console.send_signal(fault.signal)
            return time.monotonic(), console
        finally:
            with contextlib.suppress(psutil.Error):
                console.wait(10)


def run_serve_fault(tmp: Path, model: Path, fault: Fault) -> Outcome:
    """`kanri serve --workers 2` under load; the parent or one worker hit; then everything it started must end."""
    server = start_serve(tmp, f"{PREDICTORS}:Echo", str(model), "--workers", "2", "--drain-delay-seconds", "0.5")
    parent = psutil.Process(server.process.pid)
    family: list[psutil.Process] = [parent]
    try:
        workers = wait_for(lambda: len(parent.children()) == 2 and parent.children(), "two workers", 30)
        family += workers
        # Both listening: a worker killed while its sibling still imports leaves the port without a listener, which
        # is the start's outage, not the kill's.
        wait_for(lambda: all(server.port in listening_ports(w) for w in workers), "both workers listen", 30)
        with warm_load(server.target, fault.client_retries) as load:
            victim = parent if fault.target == "serve parent" else workers[0]
            victim.send_signal(fault.signal)
            killed_at = time.monotonic()
            time.sleep(OBSERVE_SECONDS)
            outcome = _measure(fault, load, killed_at)
        if fault.target == "serve parent":
            _leftovers(outcome, [p for p in family if not _ends(p, 30.0)])
            outcome.ports += [server.port] if listening(server.port) else []
        else:
            _leftovers(outcome, [victim] if not _ends(victim, 30.0) else [])
            family += wait_for(lambda: len(parent.children()) == 2 and parent.children(), "two workers again", 30)
        return outcome
    finally:
        server.stop()
        still = [p for p in family if not _ends(p, 15.0)]
        for process in still:
            with contextlib.suppress(psutil.Error):
                process.kill()
        assert not still, f"kanri serve left {[describe(p) for p in still]} after it stopped"
