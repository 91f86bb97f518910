"""The serving benchmark's load: h2load, closed loop, one pre-encoded request, the same for every server
of a transport (gRPC over HTTP/2, JSON over HTTP/1.1), and what one measured run yields.

Throughput comes from h2load; p50/p99 from its per-request log. gRPC errors (HTTP
200 with a non-OK grpc-status, which h2load counts as success) are found from the
DATA bytes received, since an error answer carries none; an HTTP error is a
status other than 200 in the log.
"""

from __future__ import annotations

import re
import signal
import struct
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from bench.procs import BenchError, children_cpu_seconds, group_cpu_seconds, group_pids, pinned, signal_group
from bench.targets import HTTP, Target, verify


@dataclass(frozen=True)
class Load:
    """How hard and how long each server is driven. gRPC: `clients` connections of `streams`
    concurrent streams; HTTP/1.1: as many connections, one request at a time on each, so the
    requests in flight are the same (HTTP clients pool connections; they do not pipeline)."""

    clients: int
    streams: int
    duration_s: float
    warmup_s: float
    loadgen_cpus: str | None

    @property
    def in_flight(self) -> int:
        return self.clients * self.streams


@dataclass
class Measurement:
    """One h2load run against one target."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # failed requests, non-200 answers and non-OK gRPC answers
    server_cpu: float  # cores the server used during the measured run
    loadgen_cpu: float  # cores h2load used
    note: str = ""
    split: str = ""
    """How the server's processes held the load's connections halfway through, "2:6" (several processes only)."""

    @property
    def cpu_us_per_request(self) -> float:
        """The server's CPU time per answer: what other work on the machine changes least."""
        return self.server_cpu / self.rps * 1e6 if self.rps else 0.0


def body_file(target: Target, folder: Path) -> Path:
    """The request as h2load sends it: a length-prefixed gRPC frame, or the JSON as is."""
    body = folder / f"{target.key}.body"
    data = (
        target.request
        if target.transport == HTTP
        else (b"\x00" + struct.pack(">I", len(target.request)) + target.request)
    )
    body.write_bytes(data)
    return body


def h2load_cmd(target: Target, load: Load, body: Path, seconds: float, log_file: Path | None) -> list[str]:
    if target.transport == HTTP:
        shape = ["--h1", "-c", str(load.in_flight), "-m", "1", "-H", "content-type: application/json"]
    else:
        shape = [
            "-c",
            str(load.clients),
            "-m",
            str(load.streams),
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
        ]
    cmd = ["h2load", "-D", f"{seconds:g}", "-t", "1", *shape, "-d", str(body)]
    if log_file is not None:
        cmd += ["--log-file", str(log_file)]
    return pinned([*cmd, f"http://{target.address}{target.method}"], load.loadgen_cpus)


def run_h2load(cmd: list[str], seconds: float) -> str:
    """Run h2load to completion (bounded) and return its stdout."""
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as h2:
        try:
            out, _ = h2.communicate(timeout=seconds + 30)
        finally:
            if h2.poll() is None:
                signal_group(h2.pid, signal.SIGKILL)
                h2.wait()
    if h2.returncode != 0:
        raise BenchError(f"h2load exited with {h2.returncode}:\n{out[-2000:]}")
    return out


def parse_h2load(out: str) -> dict[str, float]:
    """req/s, done/succeeded/failed/errored/timeout counts and DATA bytes from h2load's summary."""
    patterns = {
        "rps": r"finished in [\d.]+\w*, ([\d.]+) req/s",
        "done": r"(\d+) done",
        "succeeded": r"(\d+) succeeded",
        "failed": r"(\d+) failed",
        "errored": r"(\d+) errored",
        "timeout": r"(\d+) timeout",
        "data": r"\((\d+)\) data",
    }
    stats = {}
    for key, pattern in patterns.items():
        match = re.search(pattern, out)
        if match is None:
            raise BenchError(f"cannot parse h2load output ({key}):\n{out[-2000:]}")
        stats[key] = float(match.group(1))
    return stats


def read_latencies(log_file: Path) -> tuple[np.ndarray, int]:
    """Latencies (ms) of HTTP 200 answers in an h2load --log-file, and the count of other rows."""
    rows = np.loadtxt(log_file, dtype=np.int64, ndmin=2, usecols=(1, 2)) if log_file.stat().st_size else None
    if rows is None or rows.size == 0:
        return np.empty(0), 0
    ok = rows[:, 0] == 200
    return rows[ok, 1] / 1000.0, int((~ok).sum())


def grpc_errors(stats: dict[str, float], response_len: int) -> tuple[int, str]:
    """Non-OK gRPC answers among h2load's successes, from the DATA bytes received.

    Every OK answer is one gRPC frame of 5 + response_len bytes; an error answer
    is trailers only, with no DATA.
    """
    frame = 5 + response_len
    ok_frames, rest = divmod(int(stats["data"]), frame)
    note = "" if rest == 0 else f"DATA bytes not a multiple of {frame}: answer sizes vary, error count approximate"
    return max(0, int(stats["succeeded"]) - ok_frames), note


def measure(target: Target, load: Load, workdir: Path) -> Measurement:
    """Warm up, run h2load for the measured duration, then re-check one answer."""
    body = body_file(target, workdir)
    if load.warmup_s > 0:
        run_h2load(h2load_cmd(target, load, body, load.warmup_s, None), load.warmup_s)
    log_file = workdir / f"{target.key}.h2log"
    log_file.unlink(missing_ok=True)  # h2load appends
    cmd = h2load_cmd(target, load, body, load.duration_s, log_file)
    cpu0, gen0, t0 = group_cpu_seconds(target.proc.popen.pid), children_cpu_seconds(), time.monotonic()
    halfway = connection_split(target, load.duration_s / 2) if target.processes > 1 else None
    stats = parse_h2load(run_h2load(cmd, load.duration_s))
    wall = time.monotonic() - t0
    server_cpu = (group_cpu_seconds(target.proc.popen.pid) - cpu0) / wall
    loadgen_cpu = (children_cpu_seconds() - gen0) / wall
    latencies, non_200 = read_latencies(log_file)
    bad_grpc, note = (0, "") if target.transport == HTTP else grpc_errors(stats, target.response_len)
    errors = bad_grpc + non_200 + int(stats["failed"] + stats["errored"] + stats["timeout"])
    if target.proc.popen.poll() is not None:
        raise BenchError(f"{target.label} died under load:\n{target.proc.log_tail()}")
    verify(target)
    if latencies.size == 0:
        raise BenchError(f"{target.label}: no successful request in {load.duration_s:g} s")
    p50, p99 = np.percentile(latencies, [50, 99])
    if halfway:
        halfway.join(load.duration_s)
    split = getattr(halfway, "split", "")
    return Measurement(stats["rps"], float(p50), float(p99), int(stats["done"]), errors, server_cpu, loadgen_cpu, note,
                       split)


def connection_split(target: Target, after_s: float) -> threading.Thread:
    """A thread that, after after_s, sets its `split`: how many of the connections to the target's port each of
    its processes holds, most first ("6:2"). The kernel hands each connection to one worker (SO_REUSEPORT),
    whatever the load on it."""

    def count() -> None:
        time.sleep(after_s)
        pids = group_pids(target.proc.popen.pid)
        held = Counter(c.pid for c in psutil.net_connections("tcp") if c.pid in pids
                       and c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == target.port)
        thread.split = ":".join(str(n) for n in sorted(held.values(), reverse=True))  # type: ignore[attr-defined]

    thread = threading.Thread(target=count, daemon=True)
    thread.start()
    return thread
