"""Telemetry benchmark: how long a metrics refresh takes, how fast log tails deliver, how late lines arrive.

* metrics   PrometheusMetrics.snapshot for one application of 500 pods (50
            services of 10), against a real Prometheus (Debian's package) that
            scrapes, every 5 s, an exporter publishing the runtime's series,
            cAdvisor, DCGM and kube-state-metrics series for those pods
            (tests/fakes/gpu_exporter.py; 15,000 series), rates over 30 s (6
            samples a series, as a 1m window at a 10 s scrape interval), and
            runs the console's latency recording rules every 5 s. Both ways of
            reading latency, refreshes alternating so both see the same load:
            "recorded" (the rules' quantiles: what `kanri top` uses when
            Prometheus runs them) and "raw" (every bucket series rated at each
            refresh: the fallback). Peer: one bare instant query.
            Target: < 200 ms per refresh.
* tail      lines/s delivered by polls until a backlog of runtime-format lines
            is through: LocalFileLogs (files of 5 pods, 100,000 lines) and
            ElasticsearchLogs (20,000 documents in the test fake: osmem-server
            behind a header proxy, not a real Elasticsearch). Peers: reading and json-decoding the same files;
            the bare elasticsearch client paging the same documents in pages
            as large as the adapter's. Also lines per CPU second of this
            process: what kanri itself costs, whatever the store's speed.
            Target: >= 5,000 lines/s.
* latency   from a line written (appended to a file, or indexed with refresh)
            to the line delivered by `follow` polling every second, one line
            every 50 ms. Target: < 1.5 s (median and 99th percentile shown).

    python bench/telemetry.py           # ~3 minutes
    python bench/telemetry.py --quick   # ~90 s
    python bench/telemetry.py --only metrics   # or logs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from elasticsearch import Elasticsearch, helpers  # noqa: E402
from prometheus_api_client import PrometheusConnect  # noqa: E402

from kanri.console.telemetry import (  # noqa: E402
    ElasticsearchLogs,
    LocalFileLogs,
    LogPage,
    LogQuery,
    LogSource,
    MetricsSnapshot,
    PrometheusMetrics,
    follow,
)
from tests.fakes import gpu_exporter  # noqa: E402
from tests.fakes.elasticsearch import FakeElasticsearch  # noqa: E402
from tests.support.prometheus import Prometheus, wait_until  # noqa: E402
from tests.support.telemetry_fleet import latency_rules_config  # noqa: E402

APP = "bench"
PODS, SERVICES = 500, 50
TAIL_PODS = 5
SCRAPE_SECONDS, RATE_WINDOW_SECONDS = 5, 30


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timings(call: Callable[[], object], rounds: int) -> list[float]:
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        spent.append(time.perf_counter() - started)
    return spent


# Metrics

def cluster_pods() -> list[dict]:
    return [{"pod": f"{APP}-s{i % SERVICES:02d}-{i:03d}", "namespace": "bench", "app": APP,
             "service": f"{APP}-s{i % SERVICES:02d}", "cpu_cores": 0.25, "cpu_limit": 1.0, "memory": 200 << 20,
             "gpu": "dcgm" if i % 2 else "nvml", "gpu_util": 0.5, "gpu_memory": 1 << 30, "restarts": i % 3,
             "rps": 10.0, "error_share": 0.01} for i in range(PODS)]


def complete(source: PrometheusMetrics) -> MetricsSnapshot | None:
    """A snapshot with traffic and latency for every pod, else None."""
    snapshot = source.snapshot(APP)
    ok = isinstance(snapshot, MetricsSnapshot) and sum(
        1 for s in snapshot.services for p in s.pods if p.figures.requests_per_second and p.figures.p99_seconds) == PODS
    return snapshot if ok else None


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def refresh_cpu(sources: dict[str, PrometheusMetrics], prometheus: psutil.Process,
                rounds: int) -> dict[str, dict[str, float]]:
    """CPU milliseconds a refresh costs, kanri's and Prometheus's, which other work on the machine does not
    change as it changes wall time. Prometheus's own background work (scrapes, rules) is measured idle and
    taken off."""
    started, idle = time.perf_counter(), cpu_seconds(prometheus)
    time.sleep(10)
    background = (cpu_seconds(prometheus) - idle) / (time.perf_counter() - started)
    spent = {}
    for mode, source in sources.items():
        started, kanri, server = time.perf_counter(), time.process_time(), cpu_seconds(prometheus)
        for _ in range(rounds):
            source.snapshot(APP)
        server = cpu_seconds(prometheus) - server - background * (time.perf_counter() - started)
        spent[mode] = {"kanri_cpu_ms": (time.process_time() - kanri) / rounds * 1000,
                       "prometheus_cpu_ms": max(0.0, server) / rounds * 1000}
    return spent


def bench_metrics(rounds: int, folder: Path) -> dict[str, dict[str, float]]:
    """Refresh and history times per latency mode, plus the bare query and the machine's load around them."""
    window = f"{RATE_WINDOW_SECONDS}s"
    exporter, address = gpu_exporter.start(cluster_pods(), folder, runtime=True)
    prometheus = Prometheus.start(scrape_interval=f"{SCRAPE_SECONDS}s",
                                  extra_config=latency_rules_config(folder, window, f"{SCRAPE_SECONDS}s"))
    sources = {mode: PrometheusMetrics(prometheus.url, rate_window=window, timeout=5.0, recorded=mode == "recorded")
               for mode in ("recorded", "raw")}
    found = PrometheusMetrics(prometheus.url, rate_window=window, timeout=5.0)
    try:
        prometheus.set_targets("exporters", [(address, {})])
        log(f"metrics: waiting for Prometheus to hold {PODS} pods' series and their recorded quantiles ...")
        for source in sources.values():
            wait_until(lambda source=source: complete(source), 90, f"{PODS} pods in Prometheus", interval=0.5)
        time.sleep(RATE_WINDOW_SECONDS)  # a full window, so queries read as many samples as they will in use
        if found.uses_recorded() is not True:
            raise RuntimeError("PrometheusMetrics did not find the recording rules' series")
        bare = PrometheusConnect(prometheus.url)
        load_before = os.getloadavg()[0]
        peer = timings(lambda: bare.custom_query("up"), rounds)
        refresh: dict[str, list[float]] = {mode: [] for mode in sources}
        for i in range(rounds):  # alternating, each mode first in turn: both see the same noise
            for mode in (list(sources) if i % 2 else list(reversed(sources))):
                refresh[mode] += timings(lambda mode=mode: sources[mode].snapshot(APP), 1)
        history = {mode: timings(lambda s=source: s.history(APP, window_seconds=300, step_seconds=10),
                                 max(3, rounds // 4)) for mode, source in sources.items()}
        load = (load_before, os.getloadavg()[0])
        cpu = refresh_cpu(sources, psutil.Process(prometheus.process.pid), rounds)
        return {mode: {"bare_query_ms": median_ms(peer), "refresh_ms": median_ms(refresh[mode]),
                       "refresh_min_ms": min(refresh[mode]) * 1000,
                       "refresh_p90_ms": sorted(refresh[mode])[int(len(refresh[mode]) * 0.9)] * 1000,
                       "history_ms": median_ms(history[mode]), "load_before": load[0], "load_after": load[1],
                       **cpu[mode]}
                for mode in sources}
    finally:
        for source in (*sources.values(), found):
            source.close()
        prometheus.stop()
        exporter.terminate()
        exporter.wait(10)


# Log tails

def runtime_line(pod: str, i: int, when: datetime) -> dict:
    """A request line as serving/logs.py writes it."""
    return {"@timestamp": when.isoformat(timespec="milliseconds"), "level": "info", "logger": "kanri.request",
            "app": APP, "service": f"{APP}-web", "service_level": "production", "pod": pod, "pid": 4242,
            "model_version": "1", "message": "Predict OK", "request_id": f"r{i}", "method": "Predict",
            "latency_ms": 0.42, "code": "OK"}


def backlog(lines: int) -> Iterator[dict]:
    start = datetime.now(UTC) - timedelta(minutes=5)
    for i in range(lines):
        yield runtime_line(f"{APP}-web-{i % TAIL_PODS}", i, start + timedelta(microseconds=i * 500))


def drain(source: LogSource, cursor: object, expected: int) -> tuple[float, float]:
    """Seconds to poll `expected` lines through, from `cursor`, and the CPU seconds this process spent on it."""
    started, cpu, delivered = time.perf_counter(), time.process_time(), 0
    while delivered < expected:
        answer = source.poll(LogQuery(APP, limit=expected), cursor)
        if not isinstance(answer, LogPage):
            raise RuntimeError(f"poll failed: {answer}")
        delivered += len(answer.lines)
        cursor = answer.cursor
        if not answer.lines and not answer.more and delivered < expected:
            raise RuntimeError(f"only {delivered} of {expected} lines delivered")
    return time.perf_counter() - started, time.process_time() - cpu


def bench_files_tail(lines: int, folder: Path) -> dict[str, float]:
    source = LocalFileLogs(folder, timeout=30.0)
    cursor = source.search(LogQuery(APP)).cursor
    paths = [folder / APP / f"{APP}-web" / f"{APP}-web-{p}.log" for p in range(TAIL_PODS)]
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    handles = [p.open("w") for p in paths]
    for i, record in enumerate(backlog(lines)):
        handles[i % TAIL_PODS].write(json.dumps(record) + "\n")
    for h in handles:
        h.close()
    seconds, cpu = drain(source, cursor, lines)
    started = time.perf_counter()
    decoded = sum(1 for p in paths for text in p.read_text().splitlines() if json.loads(text))
    peer = time.perf_counter() - started
    assert decoded == lines
    return {"lines_per_s": lines / seconds, "peer_lines_per_s": lines / peer, "lines_per_cpu_s": lines / cpu}


def bench_es_tail(lines: int, fake: FakeElasticsearch) -> dict[str, float]:
    client, index = Elasticsearch(fake.url, request_timeout=60), f"kanri-logs-{uuid.uuid4().hex[:8]}"
    helpers.bulk(client, [{"_index": f"{index}-a", "_source": {
        **runtime_line("warm", 0, datetime.now(UTC) - timedelta(minutes=10)), "log_id": "0"}}], refresh="true")
    source = ElasticsearchLogs(client, index=f"{index}-*", timeout=30.0)
    cursor = source.search(LogQuery(APP)).cursor
    helpers.bulk(client, ({"_index": f"{index}-a", "_source": {**r, "log_id": str(uuid.uuid4())}}
                          for r in backlog(lines)), chunk_size=5000, refresh="true")
    seconds, cpu = drain(source, cursor, lines)
    started, read, after = time.perf_counter(), 0, None
    while True:  # the bare client paging the same documents as large pages, the adapter's ceiling here
        hits = client.search(index=f"{index}-*", size=source.page_size, search_after=after,
                             sort=[{"@timestamp": "asc"}, {"log_id.keyword": "asc"}])["hits"]["hits"]
        read += len(hits)
        if len(hits) < source.page_size:
            break
        after = hits[-1]["sort"]
    peer = time.perf_counter() - started
    return {"lines_per_s": lines / seconds, "peer_lines_per_s": read / peer, "lines_per_cpu_s": lines / cpu}


def bench_latency(source: LogSource, write: Callable[[dict], None], seconds: float) -> dict[str, float]:
    """Write one line every 50 ms for `seconds`; how long each took to come out of follow at a 1 s poll."""
    stop = threading.Event()
    latencies: list[float] = []

    def consume() -> None:
        for answer in follow(source, LogQuery(APP, limit=1), interval=1.0, stop=stop):
            now = time.time()
            if isinstance(answer, LogPage):
                latencies.extend(now - line.fields["written_at"] for line in answer.lines
                                 if "written_at" in line.fields)

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.3)  # follow's first search: the backlog, not measured
    deadline, i = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        write({**runtime_line(f"{APP}-web-0", i, datetime.now(UTC)), "written_at": time.time()})
        i += 1
        time.sleep(0.05)
    time.sleep(1.5)  # the last poll
    stop.set()
    consumer.join()
    if len(latencies) != i:
        raise RuntimeError(f"{i} lines written, {len(latencies)} delivered")
    latencies.sort()
    return {"median_s": statistics.median(latencies), "p99_s": latencies[int(len(latencies) * 0.99)],
            "lines": len(latencies)}


@contextmanager
def fake_elasticsearch() -> Iterator[FakeElasticsearch]:
    fake = FakeElasticsearch.start()
    try:
        yield fake
    finally:
        fake.stop()


def file_writer(folder: Path) -> tuple[LogSource, Callable[[dict], None]]:
    path = folder / APP / f"{APP}-web" / f"{APP}-web-0.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a", buffering=1)
    return LocalFileLogs(folder), lambda record: handle.write(json.dumps(record) + "\n")


def es_writer(fake: FakeElasticsearch) -> tuple[LogSource, Callable[[dict], None]]:
    client, index = Elasticsearch(fake.url), f"kanri-logs-{uuid.uuid4().hex[:8]}"
    return ElasticsearchLogs(client, index=f"{index}-*"), lambda record: client.index(
        index=f"{index}-a", document={**record, "log_id": str(uuid.uuid4())}, refresh="true")


def report(metrics: dict, tails: dict, latencies: dict) -> str:
    rows = []
    if metrics:
        load = next(iter(metrics.values()))
        rows.append(f"metrics: one refresh of 500 pods (PrometheusMetrics.snapshot, all queries at once); load "
                    f"average {load['load_before']:.1f} before, {load['load_after']:.1f} after, "
                    f"on {os.cpu_count()} cores")
    for mode, figures in metrics.items():
        rows += [
            f"  {mode:<8} bare query {figures['bare_query_ms']:.1f} ms | refresh median {figures['refresh_ms']:.1f} ms,"
            f" min {figures['refresh_min_ms']:.1f} ms, p90 {figures['refresh_p90_ms']:.1f} ms"
            f" | history (300 s) {figures['history_ms']:.1f} ms",
            f"           CPU a refresh: kanri {figures['kanri_cpu_ms']:.1f} ms + Prometheus "
            f"{figures['prometheus_cpu_ms']:.1f} ms",
            f"           refresh / target 200 ms = {figures['refresh_ms'] / 200:.2f} (< 1 meets it); "
            f"refresh / bare query = {figures['refresh_ms'] / figures['bare_query_ms']:.1f}"]
    if tails:
        rows.append("log tail: lines/s delivered by polls through a backlog; per CPU second of this process "
                    "(the fake's proxy runs in it too)")
    for name, figures in tails.items():
        rows.append(f"  {name:<22} {figures['lines_per_s']:>9,.0f} lines/s | peer {figures['peer_lines_per_s']:>9,.0f}"
                    f" | ratio {figures['lines_per_s'] / figures['peer_lines_per_s']:.2f}"
                    f" | / target 5,000 = {figures['lines_per_s'] / 5000:.1f}"
                    f" | {figures['lines_per_cpu_s']:>9,.0f} lines/CPU-s")
    if latencies:
        rows.append("write-to-delivery latency, follow polling every 1 s (target < 1.5 s)")
    for name, figures in latencies.items():
        rows.append(f"  {name:<22} median {figures['median_s']:.2f} s | p99 {figures['p99_s']:.2f} s "
                    f"| {figures['lines']} lines")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and lines: a smoke run")
    parser.add_argument("--only", choices=("metrics", "logs"), help="run only the metrics or only the log benchmarks")
    args = parser.parse_args(argv)
    rounds, lines, latency_seconds = (10, 20_000, 4.0) if args.quick else (40, 100_000, 15.0)
    es_lines = 20_000  # a search costs the fake more the more it stores, and about the same whatever the page size
    metrics: dict = {}
    tails: dict = {}
    latencies: dict = {}
    with tempfile.TemporaryDirectory(prefix="kanri-bench-telemetry-") as tmp:
        folder = Path(tmp)
        if args.only != "logs":
            log(f"metrics: {rounds} refreshes of {PODS} pods ...")
            metrics = bench_metrics(rounds, folder)
        if args.only == "metrics":
            print(report(metrics, tails, latencies))
            return 0
        log(f"tail: {lines:,} lines ...")
        tails["LocalFileLogs"] = bench_files_tail(lines, folder / "tail")
        with fake_elasticsearch() as fake:
            tails["ElasticsearchLogs (fake)"] = bench_es_tail(es_lines, fake)
            log(f"latency: {latency_seconds:.0f} s of writes per source ...")
            latencies["LocalFileLogs"] = bench_latency(*file_writer(folder / "latency"), latency_seconds)
            latencies["ElasticsearchLogs (fake)"] = bench_latency(*es_writer(fake), latency_seconds)
    print(report(metrics, tails, latencies))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
