"""Autoscaling benchmark (issue 18, local cluster): a service scaled on calls, to zero and back.

One embedded cluster (LocalBackend: its supervisor, the level's two routers,
replicas as `kanri serve` processes) serves tests/support/predictors.py's Echo
as one service that autoscales on concurrency: min 0, max 4 replicas, a
target of 2 calls in flight per replica. The supervisor runs with its default
timings except a stable window shortened to 6 s (panic window 0.6 s) and an
idle time before zero of 1 s, so that the run is bounded; both are printed.

* first call after zero   N times (20; --quick 5): wait until the service is
            at zero (desired 0, no pod left), then time one Predict through
            the router (kanri's Client, retries 0, a fresh channel). The
            reference, in the same cycle: the same call from a fresh client
            right after, to the replica now running (warm). The supervisor's
            pod record and the replica's log split the cold call into: sent
            until the supervisor's tick that spawned the replica (the router
            holds the call and publishes it); spawned until the replica logs
            its model live (its own cold start); live until the supervisor's
            health check saw SERVING; seen ready until answered (routing
            table, router poll, forwarding). Once over HTTP (the router's
            HTTP port, POST /kanri/v1/predict) beside warm HTTP calls.
* ramp      closed-loop callers (AsyncClient each, retries 0, deadline 10 s,
            Echo sleeping 50 ms a call) step 0 -> 1 -> 4 -> 8 -> 4 -> 1 -> 0,
            10 s a step (--quick 8 s), the last until the service is at zero
            again: every call made and every call failed (goal: none lost).
* tracking  desired and ready replicas sampled every 0.25 s: for each step,
            the ideal replicas (ceil(callers / target), within min..max), the
            replicas reached, and the seconds from the step until desired
            equalled the ideal, until enough replicas were ready (steps up),
            and until desired and ready settled at the ideal to the step's end.
            The autoscaler's decisions and reasons come from its log.

    .venv/bin/python -m bench.autoscale             # about 2.5 minutes
    .venv/bin/python -m bench.autoscale --quick     # about 1.2 minutes
    .venv/bin/python -m bench.autoscale --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
# bench/kanri.py is a module of this folder: keep bench/ off sys.path so `kanri` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(BENCH_DIR.parent))

import grpc  # noqa: E402

from bench.procs import TUNING_PREFIXES, BenchError, log, run_bench  # noqa: E402
from kanri.console.cluster.base import ClusterError, ModelRef, ServiceSpec  # noqa: E402
from kanri.console.cluster.local import LocalBackend, SupervisorSettings  # noqa: E402
from kanri.console.cluster.local.control import kill_leftovers, stop_supervisor  # noqa: E402
from kanri.console.cluster.local.paths import LocalPaths  # noqa: E402
from kanri.console.cluster.local.state import Observed, PodRecord, key  # noqa: E402
from kanri.serving.client import AsyncClient, Client, ServingError  # noqa: E402
from kanri.serving.models import ModelStore  # noqa: E402

ROOT = BENCH_DIR.parent
ECHO = f"{ROOT / 'tests' / 'support' / 'predictors.py'}:Echo"
PREFIX = "bench"
"""The model file's text: Echo answers `bench:<input>`."""
APP, SERVICE, LEVEL = "bench", "echo", "development"
RAMP = (1, 4, 8, 4, 1, 0)
"""Callers in each step of the ramp, which starts from zero."""
SAMPLE_SECONDS = 0.25
CALL_SECONDS = 0.05
"""Echo sleeps this long in every ramp call, so a caller's call is in flight at the router most of the time."""
DEADLINE_SECONDS = 10.0
ZERO_TIMEOUT = 30.0
"""The longest wait for the service to reach zero (idle time, drain delay, the replica's exit)."""
READY_TIMEOUT = 60.0
RUN_LIMIT = {False: 240.0, True: 120.0}
"""Seconds after which the run stops with an error, full and --quick, wherever it is (more when --cycles or
--step-seconds ask for a longer run: see run_limit)."""
STOP_TIMEOUT = 40.0


@dataclass(frozen=True)
class Settings:
    """What one run does; written to the JSON output as is."""

    cycles: int
    step_seconds: float
    stable_window_seconds: float
    scale_to_zero_after: float
    min_replicas: int = 0
    max_replicas: int = 4
    scale_target: float = 2.0
    ramp: tuple[int, ...] = RAMP
    call_seconds: float = CALL_SECONDS
    deadline_seconds: float = DEADLINE_SECONDS
    sample_seconds: float = SAMPLE_SECONDS

    def ideal(self, callers: int) -> int:
        """The replicas the KPA should settle on for this many closed-loop callers."""
        wanted = math.ceil(callers / self.scale_target) if callers else 0
        return min(max(wanted, self.min_replicas), self.max_replicas)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 cycles, steps of 8 s (about 1.5 minutes)")
    parser.add_argument("--cycles", type=int, default=20, help="first calls after zero measured (default 20)")
    parser.add_argument("--step-seconds", type=float, default=10.0, help="seconds of each ramp step (default 10)")
    parser.add_argument("--stable-window", type=float, default=6.0,
                        help="the supervisor's stable window, seconds (default 6; the product's default is 60)")
    parser.add_argument("--scale-to-zero-after", type=float, default=1.0,
                        help="the service's idle seconds before zero (default 1; the CLI's default is 60)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure as JSON to PATH")
    return parser.parse_args(argv)


def make_settings(args: argparse.Namespace) -> Settings:
    cycles, step = (5, 8.0) if args.quick else (args.cycles, args.step_seconds)
    return Settings(cycles=cycles, step_seconds=step, stable_window_seconds=args.stable_window,
                    scale_to_zero_after=args.scale_to_zero_after)


# ---------------------------------------------------------------- the cluster


class Clock:
    """The run's time limit: every wait ends at it with an error, so the run stops by itself."""

    def __init__(self, limit: float) -> None:
        self.deadline = time.monotonic() + limit
        self.limit = limit

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def wait_for(self, condition: Callable[[], object], timeout: float, what: str) -> float:
        """Poll condition every 50 ms; the seconds it took, or BenchError after timeout (or the run's limit)."""
        started = time.monotonic()
        end = min(started + timeout, self.deadline)
        while not condition():
            if time.monotonic() > end:
                raise BenchError(f"{what}: not within {min(timeout, end - started):.0f} s" +
                                 ("" if end < self.deadline else f" (the run's limit of {self.limit:.0f} s)"))
            time.sleep(0.05)
        return time.monotonic() - started


@contextlib.contextmanager
def local_cluster(home: Path, supervisor: SupervisorSettings) -> Iterator[LocalBackend]:
    """A LocalBackend in home; its supervisor, routers and replicas are stopped at the end, whatever happened
    (Ctrl-C and SIGTERM are ignored while they stop)."""
    backend = LocalBackend(home, supervisor)
    try:
        yield backend
    except BenchError:
        log(f"the supervisor's last words ({backend.paths.supervisor_log}):\n{log_tail(backend.paths.supervisor_log)}")
        raise
    finally:
        handlers = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            log("stopping the local cluster ...")
            stop_supervisor(backend.paths, timeout=STOP_TIMEOUT)
        except ClusterError as err:
            log(f"warning: {err}")
        finally:
            if left := kill_leftovers(backend.paths):
                log(f"warning: {left} process(es) still ran after the supervisor stopped: killed")
            for sig, handler in handlers.items():
                signal.signal(sig, handler)


def log_tail(path: Path, lines: int = 12) -> str:
    """The messages of the last lines of a kanri JSON log."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "  (no log)"
    messages = []
    for line in text:
        try:
            record = json.loads(line)
            messages.append(f"  {record.get('@timestamp', '')} {record.get('message', line)}")
        except ValueError:
            messages.append(f"  {line}")
    return "\n".join(messages)


def deploy(backend: LocalBackend, folder: Path, settings: Settings) -> ServiceSpec:
    model = folder / "echo.txt"
    model.write_text(PREFIX)
    store = ModelStore(str(backend.paths.home / "models"))
    stored = store.put_file(model)
    spec = ServiceSpec(app=APP, name=SERVICE, level=LEVEL, predictor=ECHO,
                       model=ModelRef(1, stored.uri, stored.sha256), model_store=store.root, replicas=0,
                       autoscale=True, min_replicas=settings.min_replicas, max_replicas=settings.max_replicas,
                       scale_metric="concurrency", scale_target=settings.scale_target,
                       scale_to_zero_after=settings.scale_to_zero_after)
    backend.apply(spec)
    return spec


def listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def at_zero(backend: LocalBackend) -> bool:
    return backend.status(APP, SERVICE).desired == 0 and not backend.pods(APP, SERVICE)


def check(label: Any, sent: str) -> None:
    if label != f"{PREFIX}:{sent}":
        raise BenchError(f"wrong answer to {sent!r}: {label!r}")


# ---------------------------------------------------------------- 1. first call after zero


@dataclass
class Wake:
    """One cycle: the first call after zero, the warm call after it, and where the first one's time went
    (None where a record was missing). Times come from this process's clock, the replica's process creation
    time, the replica's own log and the supervisor's pod record: one machine, one wall clock."""

    cold_s: float
    warm_s: float
    to_spawn_s: float | None = None
    """Call sent → the start of the supervisor's tick that spawned the replica (its pod record's started_at): the
    router holds the call and publishes it, the supervisor reads it at its next tick."""
    spawn_to_live_s: float | None = None
    """Spawned → its log says the model is live (health SERVING): the replica's own cold start."""
    live_to_ready_s: float | None = None
    """Model live → the supervisor's health check saw SERVING (its pod record's ready_since, a tick's start)."""
    ready_to_answer_s: float | None = None
    """Seen ready → answered: routing table written, the router's poll, the call forwarded and answered."""


def newest_pod(paths: LocalPaths, since: float) -> PodRecord | None:
    record = Observed.load(paths.observed).services.get(key(APP, SERVICE))
    pods = [p for p in (record.pods if record else []) if p.started_at >= since - 1.0]
    return max(pods, key=lambda p: p.started_at, default=None)


def live_at(log_path: Path) -> float | None:
    """When the replica logged its model live (health turns SERVING then), from its JSON log line."""
    with contextlib.suppress(OSError):
        for line in log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(line)
                if " is live" in record["message"]:
                    return datetime.fromisoformat(record["@timestamp"]).timestamp()
    return None


def timed_predict(address: str, text: str) -> float:
    with Client(address, retries=0, timeout=30) as client:
        started = time.perf_counter()
        answer = client.predict(text)
        took = time.perf_counter() - started
    check(answer.label, text)
    return took


def measure_wakes(backend: LocalBackend, settings: Settings, clock: Clock) -> list[Wake]:
    address = backend.address(APP, LEVEL)
    wakes = []
    for n in range(settings.cycles):
        clock.wait_for(lambda: at_zero(backend), ZERO_TIMEOUT, "the service scaled to zero")
        sent = time.time()
        try:
            cold = timed_predict(address, f"cold-{n}")
        except ServingError as err:
            raise BenchError(f"the first call after zero failed: {err.code.name} {err}") from err
        answered = time.time()
        warm = timed_predict(address, f"warm-{n}")
        wake = Wake(cold, warm)
        pod = newest_pod(backend.paths, sent)
        if pod is not None:
            wake.to_spawn_s = pod.started_at - sent
            live = live_at(backend.paths.pod_log(APP, SERVICE, pod.name))
            if live is not None:
                wake.spawn_to_live_s = live - pod.started_at
            if pod.ready_since is not None:
                wake.ready_to_answer_s = answered - pod.ready_since
                if live is not None:
                    wake.live_to_ready_s = pod.ready_since - live
        wakes.append(wake)
        log(f"first call after zero {n + 1}/{settings.cycles}: {ms(cold)} (warm {ms(warm)}); spawned after "
            f"{ms(wake.to_spawn_s)}, live {ms(wake.spawn_to_live_s)} later, seen ready {ms(wake.live_to_ready_s)} "
            f"later, answered {ms(wake.ready_to_answer_s)} after that")
    return wakes


def http_predict(base: str, text: str) -> float:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        started = time.perf_counter()
        connection.request("POST", "/kanri/v1/predict", json.dumps({"input": text}).encode(),
                           {"content-type": "application/json"})
        answer = connection.getresponse()
        body = answer.read()
        took = time.perf_counter() - started
    finally:
        connection.close()
    if answer.status != 200:
        raise BenchError(f"POST /kanri/v1/predict answered {answer.status}: {body[:300]!r}")
    check(json.loads(body).get("output"), text)
    return took


def measure_http(backend: LocalBackend, clock: Clock, warm_calls: int = 5) -> dict[str, float]:
    base = backend.http_address(APP, LEVEL)
    clock.wait_for(lambda: at_zero(backend), ZERO_TIMEOUT, "the service scaled to zero")
    cold = http_predict(base, "http-cold")
    warm = statistics.median(http_predict(base, f"http-warm-{n}") for n in range(warm_calls))
    log(f"first HTTP call after zero: {ms(cold)} (warm: {ms(warm)}, median of {warm_calls})")
    return {"cold_s": cold, "warm_median_s": warm, "warm_calls": warm_calls}


# ---------------------------------------------------------------- 2, 3. the ramp


@dataclass
class Call:
    caller: int
    started: float
    ended: float
    code: str = "OK"
    detail: str = ""


@dataclass
class ReplicaSample:
    at: float
    callers: int
    desired: int
    ready: int
    pods: int


@dataclass
class Step:
    callers: int
    ideal: int
    started: float
    ended: float
    callers_before: int = 0
    ideal_before: int = 0
    calls: int = 0
    failed: int = 0
    concurrency: float = 0.0
    """Calls in flight on the callers' side, averaged over the step."""
    rising: bool = False
    """More callers than the step before (the first step too: it wakes the service from zero)."""
    desired_at_ideal_s: float | None = None
    """Seconds from the step until the autoscaler first asked for the ideal; None: not within the step."""
    enough_ready_s: float | None = None
    """Steps up: seconds from the step until at least the ideal replicas were ready; None: not within it."""
    settled_s: float | None = None
    """Seconds from the step until desired and ready replicas both equalled the ideal (at zero: no pod left) and
    stayed so to the step's end; None: not settled at its end."""
    max_desired: int = 0
    max_ready: int = 0
    end_desired: int = 0
    end_ready: int = 0


@dataclass
class Decision:
    """A change of replicas the supervisor logged, from its log."""

    at: float
    """Seconds since the ramp began."""
    replicas_from: int
    replicas_to: int
    reason: str


@dataclass
class Ramp:
    steps: list[Step]
    calls: list[Call]
    samples: list[ReplicaSample] = field(default_factory=list)
    wall_offset: float = 0.0
    """time.time() minus the loop's clock, which times the steps, calls and samples."""
    decisions: list[Decision] = field(default_factory=list)

    @property
    def failed(self) -> list[Call]:
        return [c for c in self.calls if c.code != "OK"]


async def run_ramp(backend: LocalBackend, settings: Settings, clock: Clock) -> Ramp:
    address = backend.address(APP, LEVEL)
    loop = asyncio.get_running_loop()
    callers = 0
    calls: list[Call] = []
    samples: list[ReplicaSample] = []
    sampling = True

    async def caller(n: int) -> None:
        """Calls one after another while this caller's number is below the step's callers."""
        async with AsyncClient(address, retries=0, timeout=settings.deadline_seconds) as client:
            while n < callers:
                call = Call(n, loop.time(), 0.0)
                text = f"sleep:{settings.call_seconds}"
                try:
                    answer = await client.predict(text)
                    check(answer.label, text)
                except ServingError as err:
                    call.code, call.detail = err.code.name, str(err)[:300]
                call.ended = loop.time()
                calls.append(call)

    async def sampler() -> None:
        while sampling:
            status, pods = backend.status(APP, SERVICE), backend.pods(APP, SERVICE)
            samples.append(ReplicaSample(loop.time(), callers, status.desired, status.ready, len(pods)))
            await asyncio.sleep(settings.sample_seconds)

    wall_offset = time.time() - loop.time()
    sampling_task = asyncio.ensure_future(sampler())
    tasks: list[asyncio.Task[None]] = []
    steps: list[Step] = []
    try:
        for count in settings.ramp:
            before, callers = callers, count
            step = Step(count, settings.ideal(count), loop.time(), 0.0, before, settings.ideal(before),
                        rising=count > before or not steps)
            steps.append(step)
            tasks += [asyncio.ensure_future(caller(n)) for n in range(before, count)]
            log(f"ramp: {count} caller(s), ideal {step.ideal} replica(s)")
            if count:
                await asyncio.sleep(min(settings.step_seconds, clock.left()))
            else:  # the last step lasts until the service is at zero again
                end = loop.time() + min(ZERO_TIMEOUT, clock.left())
                while not at_zero(backend) and loop.time() < end:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(settings.sample_seconds)  # one sample at zero
            step.ended = loop.time()
            if clock.left() <= 0:
                raise BenchError(f"the run's limit of {clock.limit:.0f} s was reached during the ramp")
        await asyncio.wait_for(asyncio.gather(*tasks), settings.deadline_seconds + 5)
    finally:
        sampling = False
        for task in [*tasks, sampling_task]:
            task.cancel()
        await asyncio.gather(*tasks, sampling_task, return_exceptions=True)
    ramp = Ramp(steps, sorted(calls, key=lambda c: c.started), samples, wall_offset)
    for step in steps:
        summarise_step(step, ramp)
    return ramp


DECISION = re.compile(r"autoscaling \S+ from (\d+) to (\d+) replicas: (.*)")


def scaling_decisions(log_path: Path, ramp: Ramp) -> list[Decision]:
    """The supervisor's changes of replicas during the ramp, with its reasons, from its JSON log."""
    start = ramp.wall_offset + ramp.steps[0].started
    end = ramp.wall_offset + ramp.steps[-1].ended
    found = []
    with contextlib.suppress(OSError):
        for line in log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(line)
                at = datetime.fromisoformat(record["@timestamp"]).timestamp()
                if start <= at <= end and (match := DECISION.search(record["message"])):
                    found.append(Decision(round(at - start, 3), int(match[1]), int(match[2]), match[3]))
    return found


def summarise_step(step: Step, ramp: Ramp) -> None:
    """Calls, load and replicas of one step, from the calls made and the samples taken during it."""
    within = [c for c in ramp.calls if step.started <= c.started < step.ended]
    step.calls, step.failed = len(within), sum(c.code != "OK" for c in within)
    busy = sum(max(0.0, min(c.ended, step.ended) - max(c.started, step.started)) for c in ramp.calls)
    step.concurrency = busy / max(step.ended - step.started, 1e-9)
    samples = [s for s in ramp.samples if step.started <= s.at < step.ended]
    if not samples:
        return
    step.max_desired, step.max_ready = max(s.desired for s in samples), max(s.ready for s in samples)
    step.end_desired, step.end_ready = samples[-1].desired, samples[-1].ready
    def after(found: ReplicaSample | None) -> float | None:
        return None if found is None else found.at - step.started

    step.desired_at_ideal_s = after(next((s for s in samples if s.desired == step.ideal), None))
    if step.rising:
        step.enough_ready_s = after(next((s for s in samples if s.ready >= step.ideal), None))
    # At zero means no pod left at all; otherwise ready replicas (a draining one no longer counts).
    settled = None
    for sample in samples:
        at_ideal = sample.desired == sample.ready == step.ideal and (step.ideal or not sample.pods)
        settled = (settled or sample) if at_ideal else None
    step.settled_s = after(settled)


# ---------------------------------------------------------------- report


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.0f} ms"


def secs(seconds: float | None) -> str:
    return "not reached" if seconds is None else f"{seconds:.2f} s"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def distribution(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p99": quantile(values, 0.99), "max": max(values), "n": len(values)}


def summary(wakes: list[Wake], http_figures: dict[str, float], ramp: Ramp, settings: Settings) -> dict[str, Any]:
    def part(name: str) -> dict[str, float] | None:
        values = [getattr(w, name) for w in wakes if getattr(w, name) is not None]
        return distribution(values) if values else None

    def median(values: list[float | None]) -> float | None:
        found = [v for v in values if v is not None]
        return statistics.median(found) if found else None

    cold, warm = part("cold_s"), part("warm_s")
    assert cold is not None and warm is not None
    return {
        "first_call_after_zero": cold,
        "warm_call": warm,
        "cold_over_warm_p50": cold["p50"] / warm["p50"],
        "to_spawn": part("to_spawn_s"),
        "spawn_to_live": part("spawn_to_live_s"),
        "live_to_ready": part("live_to_ready_s"),
        "ready_to_answer": part("ready_to_answer_s"),
        "http": http_figures,
        "calls": len(ramp.calls),
        "failed": len(ramp.failed),
        "failed_by_code": {code: sum(c.code == code for c in ramp.failed) for code in {c.code for c in ramp.failed}},
        "steps": len(ramp.steps),
        "steps_settled": sum(s.settled_s is not None for s in ramp.steps),
        "settled_median_s": median([s.settled_s for s in ramp.steps]),
        "settled_median_up_s": median([s.settled_s for s in ramp.steps if s.rising]),
        "settled_median_down_s": median([s.settled_s for s in ramp.steps if not s.rising]),
        "enough_ready_median_up_s": median([s.enough_ready_s for s in ramp.steps if s.rising]),
        "steps_over_ideal": sum(s.max_desired > max(s.ideal, s.ideal_before) for s in ramp.steps),
    }


def targets(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, goal, got, met): the issue's goal, and this benchmark's own check of tracking."""
    return [
        ("calls lost during the ramp", "0 (issue 18)", f"{figures['failed']} of {figures['calls']}",
         "yes" if figures["failed"] == 0 else "NO"),
        ("ramp steps settled at their ideal replicas", "every step (this benchmark's check)",
         f"{figures['steps_settled']} of {figures['steps']}",
         "yes" if figures["steps_settled"] == figures["steps"] else "NO"),
        ("first call after zero, p50 / p99", "none set: reported beside a warm call",
         f"{ms(figures['first_call_after_zero']['p50'])} / {ms(figures['first_call_after_zero']['p99'])}", "—"),
    ]


def format_report(figures: dict[str, Any], ramp: Ramp, settings: Settings, supervisor: SupervisorSettings,
                  env: dict[str, str]) -> str:
    def row(name: str, d: dict[str, float] | None) -> str:
        if d is None:
            return f"| {name} | — | — | — |"
        return f"| {name} | {ms(d['p50'])} | {ms(d['p99'])} | {ms(d['max'])} |"

    cold = figures["first_call_after_zero"]
    lines = [
        f"First call after zero ({cold['n']} cycles, gRPC Predict through the router, a fresh client each):",
        "",
        "| measure | p50 | p99 | max |",
        "| --- | --- | --- | --- |",
        row("**first call after zero**", cold),
        row("warm call (reference: the next call, to the replica now running)", figures["warm_call"]),
        row("of the first call: sent → replica spawned (hold, supervisor tick)", figures["to_spawn"]),
        row("of the first call: spawned → model live, per the replica's log (its cold start)",
            figures["spawn_to_live"]),
        row("of the first call: model live → the supervisor's health check saw SERVING", figures["live_to_ready"]),
        row("of the first call: seen ready → answered (table, router poll, the call)", figures["ready_to_answer"]),
        "",
        f"first call / warm call, p50: {figures['cold_over_warm_p50']:.0f}×. Over HTTP (POST /kanri/v1/predict "
        f"on the router's HTTP port), once: {ms(figures['http']['cold_s'])} after zero, "
        f"{ms(figures['http']['warm_median_s'])} warm (median of {figures['http']['warm_calls']}).",
        "",
        f"Ramp ({settings.step_seconds:g} s a step, closed-loop callers, each call "
        f"{settings.call_seconds * 1000:.0f} ms in Echo; target {settings.scale_target:g} in flight per replica, "
        f"{settings.min_replicas}...{settings.max_replicas} replicas):",
        "",
        "| step | callers | in flight | ideal | calls | failed | desired = ideal after | ready ≥ ideal after "
        "| settled at ideal after | max desired / ready | at the end |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, step in enumerate(ramp.steps, 1):
        lines.append(f"| {n} | {step.callers_before} → {step.callers} | {step.concurrency:.2f} | {step.ideal} "
                     f"| {step.calls} | {step.failed} | {secs(step.desired_at_ideal_s)} "
                     f"| {secs(step.enough_ready_s) if step.rising else 'n/a'} | {secs(step.settled_s)} "
                     f"| {step.max_desired} / {step.max_ready} | {step.end_desired} / {step.end_ready} |")
    lines += [
        "",
        "in flight: the callers' calls in flight, averaged over the step; settled: from then to the step's end, "
        "desired and ready replicas both equal the ideal (at zero: no pod left).",
        f"settled at ideal after, median over steps: {secs(figures['settled_median_s'])} (steps up "
        f"{secs(figures['settled_median_up_s'])}, down {secs(figures['settled_median_down_s'])}); enough "
        f"replicas ready after a step up, median: {secs(figures['enough_ready_median_up_s'])}; steps where the "
        f"autoscaler asked for more than the ideal (and than the step before's): {figures['steps_over_ideal']}; "
        f"calls {figures['calls']}, failed {figures['failed']}"
        + (f" {figures['failed_by_code']}" if figures["failed"] else ""),
    ]
    lines += ["", "The autoscaler's changes during the ramp (seconds since it began; from the supervisor's log):"]
    lines += [f"  {d.at:6.2f} s  {d.replicas_from} → {d.replicas_to}: {d.reason}" for d in ramp.decisions]
    for call in ramp.failed[:5]:
        lines.append(f"  failed: caller {call.caller} at {call.started - ramp.steps[0].started:.2f} s: {call.code} "
                     f"{call.detail}")
    lines += ["", "| target | goal | got | met |", "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {goal} | {got} | {met} |" for name, goal, got, met in targets(figures)]
    lines += [
        "",
        f"supervisor: stable window {supervisor.stable_window_seconds:g} s (panic window "
        f"{supervisor.stable_window_seconds / 10:g} s; the default is 60 s), scale-down delay "
        f"{supervisor.scale_down_delay_seconds:g} s, tick {supervisor.tick_seconds:g} s, router poll "
        f"{supervisor.router_poll_seconds:g} s, drain delay {supervisor.drain_delay_seconds:g} s, "
        f"{supervisor.routers_per_level} routers; the service: scale to zero after {settings.scale_to_zero_after:g} s "
        "idle (the CLI's default is 60 s)",
        f"machine: {env['cpus']} CPU(s), load average (1 min) {env['loadavg_at_start']} at the start, "
        f"{env.get('loadavg_at_end', '?')} at the end (other work on the machine makes figures noisier); "
        f"python {env['python']}, grpcio {env['grpcio']}; run took {env.get('run_seconds', '?')} s",
    ]
    return "\n".join(lines)


def environment() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "cpus": str(os.cpu_count()),
        "platform": platform.platform(),
        "loadavg_at_start": f"{os.getloadavg()[0]:.2f}",
    }


def write_json(path: Path, figures: dict[str, Any], wakes: list[Wake], ramp: Ramp, settings: Settings,
               supervisor: SupervisorSettings, env: dict[str, str]) -> None:
    start = ramp.steps[0].started if ramp.steps else 0.0

    def relative(row: dict[str, Any], *names: str) -> dict[str, Any]:
        return {k: round(v - start, 3) if k in names else v for k, v in row.items()}

    doc = {
        "settings": asdict(settings),
        "supervisor": asdict(supervisor),
        "environment": env,
        "summary": figures,
        "targets": [dict(zip(("measure", "goal", "got", "met"), t, strict=True)) for t in targets(figures)],
        "wakes": [asdict(w) for w in wakes],
        "steps": [relative(asdict(s), "started", "ended") for s in ramp.steps],
        "samples": [relative(asdict(s), "at") for s in ramp.samples],
        "failed_calls": [relative(asdict(c), "started", "ended") for c in ramp.failed],
        "decisions": [asdict(d) for d in ramp.decisions],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


# ---------------------------------------------------------------- main


def clean_environment() -> None:
    """No KANRI_* or OTEL_* variable of this shell tunes the supervisor or its replicas behind the benchmark."""
    for name in [n for n in os.environ if n.startswith(TUNING_PREFIXES)]:
        del os.environ[name]
    os.environ.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})


def run_limit(settings: Settings, quick: bool) -> float:
    """The run's time limit: RUN_LIMIT, or a quarter more than a run of these settings should take."""
    expected = 30 + settings.cycles * 5 + (len(settings.ramp) - 1) * settings.step_seconds + 15
    return max(RUN_LIMIT[quick], 1.25 * expected)


def run(args: argparse.Namespace) -> int:
    settings = make_settings(args)
    supervisor = SupervisorSettings(stable_window_seconds=settings.stable_window_seconds)
    clean_environment()
    env = environment()
    clock = Clock(run_limit(settings, args.quick))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kanri-bench-autoscale-") as folder, \
            local_cluster(Path(folder) / "home", supervisor) as backend:
        deploy(backend, Path(folder), settings)
        log(f"cluster in {folder}; waiting for the router, then a first call ...")
        clock.wait_for(lambda: listening(backend.address(APP, LEVEL)), READY_TIMEOUT, "the router listening")
        timed_predict(backend.address(APP, LEVEL), "hello")  # the route answers before anything is measured
        wakes = measure_wakes(backend, settings, clock)
        http_figures = measure_http(backend, clock)
        clock.wait_for(lambda: at_zero(backend), ZERO_TIMEOUT, "the service scaled to zero before the ramp")
        ramp = asyncio.run(run_ramp(backend, settings, clock))
        ramp.decisions = scaling_decisions(backend.paths.supervisor_log, ramp)
    env["loadavg_at_end"] = f"{os.getloadavg()[0]:.2f}"
    env["run_seconds"] = f"{time.monotonic() - started:.0f}"
    figures = summary(wakes, http_figures, ramp, settings)
    print(format_report(figures, ramp, settings, supervisor, env))
    if args.json:
        write_json(args.json, figures, wakes, ramp, settings, supervisor, env)
        log(f"wrote {args.json}")
    return 1 if ramp.failed else 0


def main(argv: list[str] | None = None) -> int:
    return run_bench(lambda: run(parse_args(argv)), "the cluster was stopped")

if __name__ == "__main__":
    sys.exit(main())
