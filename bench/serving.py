"""Serving benchmark: kanri vs MLServer over gRPC and HTTP, and vs a bare grpc.aio echo server.

One scikit-learn digits model (trained here, dumped as .skops for kanri and
.joblib for MLServer) is served by:

* echo        bench/echo_server.py: grpc.aio returning the request bytes (the
              Python gRPC ceiling of one process on this machine);
* mlserver    MLServer 1.7.1 + mlserver-sklearn in its own virtual environment
              (created on first run), one process: Open Inference Protocol
              gRPC (ModelInfer) and REST (POST /v2/models/digits/infer, JSON);
* kanri       `python -m kanri.serving serve` with its DEFAULT flags on the predictor
              written the README's way (`predict` only,
              bench/predictors/readme_digits.py): kanri's Predict over gRPC,
              and the same Open Inference Protocol JSON as MLServer's over HTTP;
* kanri predict_batch   the same defaults on examples/digits (which has
              predict_batch, so the default adaptive batching works), gRPC;
* kanri tracing on      with --tracing: kanri (predict only) exporting every
              span over OTLP to a sink in this process.

Every target is checked with a real client (the answer must decode and match
the model's own prediction) before the load and after every round, then driven
by h2load with the same pre-encoded request, closed loop, several interleaved
rounds; the ratios against the goals come from the medians of one run.

    python bench/serving.py            # about 5 minutes
    python bench/serving.py --quick    # smoke run, about 1 minute
    python bench/serving.py --json results.json
    python bench/serving.py --tracing  # adds kanri with OpenTelemetry tracing on
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# bench/kanri.py is a module of this folder: keep bench/ off sys.path so `kanri` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(BENCH_DIR.parent))

import grpc  # noqa: E402

from bench import kanri, mlserver  # noqa: E402
from bench.loadgen import Load, Measurement, measure  # noqa: E402
from bench.model import MODEL_DESCRIPTION, Model, prepare_model  # noqa: E402
from bench.procs import (  # noqa: E402
    BenchError,
    log,
    pinned,
    run_bench,
    server_env,
    spawn,
    split_cpus,
)
from bench.targets import GRPC, HTTP, Target, unary_call, verify, wait_ready  # noqa: E402
from kanri.console.cluster.local.processes import free_port  # noqa: E402
from kanri.serving.cpus import usable_cpus  # noqa: E402

MLSERVER_VENV = BENCH_DIR / ".venv-mlserver"
SERVERS = ("echo", "mlserver", "kanri", "kanri-batch")
TRANSPORTS = (GRPC, HTTP)


@dataclass(frozen=True)
class Goal:
    """A ratio of medians, target over base, and the bounds it should meet (None: reported only)."""

    target: str
    base: str
    min_throughput: float | None = None
    max_p99: float | None = None


GOALS = (
    Goal("kanri", "mlserver", 2.0, 0.5),
    Goal("kanri", "echo", 0.7),
    Goal("kanri-http", "mlserver-http", 1.5, 0.5),
    Goal("kanri-batch", "mlserver"),
    Goal("kanri-batch", "echo"),
    Goal("kanri-tracing", "kanri"),
)


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """What one run does; written to the JSON output as is."""

    rounds: int
    load: Load
    servers: tuple[str, ...]
    transports: tuple[str, ...]
    server_cpus: str | None
    oip_encoding: str
    sample: int
    tracing: bool = False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per configuration, interleaved (default 3)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per round (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each round (default 2)")
    parser.add_argument("--clients", type=int, default=8, help="gRPC connections (default 8)")
    parser.add_argument(
        "--streams",
        type=int,
        default=16,
        help="concurrent streams per gRPC connection (default 16); HTTP/1.1 gets clients x streams "
        "connections of one request each",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 3 s, 1 s warm-up")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help=f"comma-separated subset of {','.join(SERVERS)} (default: all)"
    )
    parser.add_argument(
        "--transports",
        default=",".join(TRANSPORTS),
        help="comma-separated subset of gRPC,HTTP (default: both; echo and kanri predict_batch are gRPC only)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to one CPU and h2load to another (default: no pinning, the server may use every CPU)",
    )
    parser.add_argument(
        "--oip-encoding",
        choices=("raw", "contents"),
        default="raw",
        help="MLServer gRPC request tensor: raw_input_contents (default, MLServer's faster path) or int64_contents",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="also measure kanri exporting every span over OTLP (needs kanri[tracing])",
    )
    parser.add_argument("--sample", type=int, default=0, help="index of the digits image sent (default 0)")
    parser.add_argument("--mlserver-venv", type=Path, default=MLSERVER_VENV, help=f"default {MLSERVER_VENV}")
    return parser.parse_args(argv)


def _subset(text: str, known: tuple[str, ...], option: str) -> tuple[str, ...]:
    chosen = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = set(chosen) - set(known)
    if unknown or not chosen:
        raise BenchError(f"{option}: unknown {', '.join(sorted(unknown)) or 'empty list'}")
    return chosen


def make_settings(args: argparse.Namespace) -> Settings:
    """Settings from the command line, with --quick and CPU pinning applied."""
    rounds, duration, warmup = (1, 3.0, 1.0) if args.quick else (args.rounds, args.duration, args.warmup)
    if rounds < 1 or duration <= 0 or warmup < 0 or args.clients < 1 or args.streams < 1:
        raise BenchError("--rounds, --duration, --clients and --streams must be positive")
    server_cpus, loadgen_cpus = split_cpus() if args.pin else (None, None)
    return Settings(
        rounds=rounds,
        load=Load(args.clients, args.streams, duration, warmup, loadgen_cpus),
        servers=_subset(args.servers, SERVERS, "--servers"),
        transports=_subset(args.transports, TRANSPORTS, "--transports"),
        server_cpus=server_cpus,
        oip_encoding=args.oip_encoding,
        sample=args.sample,
        tracing=args.tracing,
    )


# ---------------------------------------------------------------- servers


def start_echo(stack: contextlib.ExitStack, settings: Settings, model: Model, workdir: Path) -> list[Target]:
    """The bare grpc.aio echo server, answering kanri's request bytes with themselves."""
    port = free_port()
    cmd = pinned([sys.executable, str(BENCH_DIR / "echo_server.py"), "--port", str(port)], settings.server_cpus)
    proc = spawn(stack, "echo server", cmd, workdir / "echo.log", env=server_env())
    request = model.kanri_request()

    def check(answer: bytes) -> None:
        if answer != request:
            raise BenchError("echo server: answer differs from the request")

    target = Target("echo", "echo (grpc.aio)", port, kanri.PREDICT_METHOD, request, check, proc)
    wait_ready(proc, lambda: unary_call(target.address, target.method, request, timeout=1) == request)
    return [target]


def starters(
    stack: contextlib.ExitStack, settings: Settings, model: Model, workdir: Path, venv: Path
) -> list[Callable[[], list[Target]]]:
    """How to start each server of the run, in order."""
    cpus, transports = settings.server_cpus, settings.transports

    def start_kanri(variant: kanri.Variant, endpoint: str = "") -> Callable[[], list[Target]]:
        return lambda: kanri.start(stack, variant, model, workdir, cpus, transports, endpoint)

    chosen: list[Callable[[], list[Target]]] = []
    if "echo" in settings.servers and GRPC in transports:
        chosen.append(lambda: start_echo(stack, settings, model, workdir))
    if "mlserver" in settings.servers:
        chosen.append(lambda: mlserver.start(stack, model, workdir, venv, cpus, settings.oip_encoding, transports))
    if "kanri" in settings.servers:
        chosen.append(start_kanri(kanri.PREDICT_ONLY))
    if "kanri-batch" in settings.servers and GRPC in transports:
        chosen.append(start_kanri(kanri.PREDICT_BATCH))
    if settings.tracing and GRPC in transports:
        chosen.append(start_kanri(kanri.TRACING, kanri.SpanSink(stack).endpoint))
    return chosen


def start_targets(
    stack: contextlib.ExitStack, settings: Settings, model: Model, workdir: Path, venv: Path
) -> list[Target]:
    """Start every server, and verify each of its targets."""
    targets = []
    for start in starters(stack, settings, model, workdir, venv):
        for target in start():
            verify(target)
            log(
                f"ready: {target.label} on {target.address} ({target.processes} process(es), answer verified, "
                f"{target.response_len} bytes)"
            )
            targets.append(target)
    return targets


# ---------------------------------------------------------------- results


@dataclass
class Result:
    """All rounds of one target."""

    label: str
    processes: int
    rounds: list[Measurement] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(m, name) for m in self.rounds)

    def spread(self) -> float:
        """(max - min) / median of req/s over the rounds."""
        rps = [m.rps for m in self.rounds]
        return (max(rps) - min(rps)) / statistics.median(rps) if rps else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "rps": self.median("rps"),
            "p50_ms": self.median("p50_ms"),
            "p99_ms": self.median("p99_ms"),
            "rps_spread": self.spread(),
            "errors": sum(m.errors for m in self.rounds),
            "server_cpu": self.median("server_cpu"),
            "loadgen_cpu": self.median("loadgen_cpu"),
            "cpu_us_per_request": self.median("cpu_us_per_request"),
        }


@dataclass(frozen=True)
class Ratio:
    """A goal's two medians compared: target over base."""

    label: str
    throughput: float
    p99: float
    throughput_goal: float | None
    p99_goal: float | None

    @property
    def throughput_met(self) -> bool | None:
        """None without a goal."""
        return None if self.throughput_goal is None else self.throughput >= self.throughput_goal

    @property
    def p99_met(self) -> bool | None:
        return None if self.p99_goal is None else self.p99 <= self.p99_goal

    @property
    def met(self) -> bool:
        return self.throughput_met is not False and self.p99_met is not False


def ratios(results: dict[str, Result]) -> dict[str, Ratio]:
    """Each goal whose two targets were measured: the ratios of their medians."""
    out = {}
    for goal in GOALS:
        if goal.target in results and goal.base in results:
            target, base = results[goal.target], results[goal.base]
            out[f"{goal.target}/{goal.base}"] = Ratio(
                f"{target.label} / {base.label}",
                target.median("rps") / base.median("rps"),
                target.median("p99_ms") / base.median("p99_ms"),
                goal.min_throughput,
                goal.max_p99,
            )
    return out


def _against(value: float, bound: float | None, sign: str, met: bool | None) -> str:
    """The ratio, and with a goal the bound and whether it is met."""
    if bound is None:
        return f"{value:.2f}"
    return f"{value:.2f} ({sign} {bound:g} {'✓' if met else '✗'})"


def format_report(results: dict[str, Result], settings: Settings, env: dict[str, str]) -> str:
    """The table of medians, the ratios against the goals, and the settings they were taken with."""
    head = (
        f"{'server':<26}{'procs':>6}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'spread':>8}{'errors':>8}"
        f"{'srv cpu':>9}{'µs/req':>8}{'h2 cpu':>8}"
    )
    lines = [head, "-" * len(head)]
    for result in results.values():
        s = result.summary()
        lines.append(
            f"{result.label:<26}{result.processes:>6}{s['rps']:>8.0f}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}"
            f"{s['rps_spread']:>8.0%}{s['errors']:>8d}{s['server_cpu']:>9.2f}{s['cpu_us_per_request']:>8.0f}"
            f"{s['loadgen_cpu']:>8.2f}"
        )
    if rat := ratios(results):
        lines += ["", f"{'ratio of medians':<48}{'throughput':<18}{'p99':<18}"]
        lines += [
            f"{r.label:<48}{_against(r.throughput, r.throughput_goal, '≥', r.throughput_met):<18}"
            f"{_against(r.p99, r.p99_goal, '≤', r.p99_met)}"
            for r in rat.values()
        ]
        lines.append(
            "(throughput > 1: the first serves more; p99 < 1: its tail latency is lower; goals in parentheses)"
        )
    lines += ["", settings_text(settings, env)]
    return "\n".join(lines)


def settings_text(settings: Settings, env: dict[str, str]) -> str:
    load = settings.load
    pin = (
        f"servers pinned to CPU {settings.server_cpus}, h2load to CPU {load.loadgen_cpus}"
        if settings.server_cpus
        else "no CPU pinning: servers and h2load share the CPUs (--pin to separate them)"
    )
    return "\n".join(
        [
            f"load: h2load, closed loop, {load.in_flight} requests in flight: gRPC {load.clients} connections x "
            f"{load.streams} streams, HTTP/1.1 {load.in_flight} connections; one fixed request (digits image "
            f"{settings.sample}); {load.duration_s:g} s measured after {load.warmup_s:g} s warm-up, "
            f"{settings.rounds} round(s) per target in rotating order; figures are medians over rounds; "
            "spread = (max - min) / median req/s; srv/h2 cpu = cores used by the server / by h2load; µs/req = "
            "the server's CPU time per answer (all its processes)",
            f"cpu: {env['cpus']} CPU(s); {pin}; servers run with OMP/OPENBLAS/MKL_NUM_THREADS=1; procs = the "
            "server's processes (kanri's default: one worker per usable CPU, plus their supervisor when more than "
            f"one); mlserver with parallel_workers {mlserver.PARALLEL_WORKERS}",
            "kanri: default flags (no tuning flag, no KANRI_* variable); requests: kanri gRPC an IntList Predict, "
            f"answer label + 10 probabilities; mlserver gRPC a {settings.oip_encoding} INT64 tensor, output "
            "`predict`; both HTTP servers the same Open Inference Protocol JSON (INT64 [1, 64]); echo returns "
            "kanri's request bytes",
            "errors: h2load failures, non-200 answers and non-OK grpc-status (from DATA bytes)",
            *(
                ["kanri tracing on: 4 spans per call exported over OTLP/gRPC to a sink in the benchmark"]
                if settings.tracing
                else []
            ),
            f"model: {env['model']}; 1-min load average before the run: {env['loadavg_at_start']}, after: "
            f"{env.get('loadavg_at_end', '?')} (other work on the machine makes figures noisier)",
            f"versions: python {env['python']}, grpcio {env['grpcio']}, scikit-learn {env['sklearn']}, {env['h2load']}",
        ]
    )


def environment() -> dict[str, str]:
    import sklearn

    h2 = subprocess.run(["h2load", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "sklearn": sklearn.__version__,
        "h2load": h2,
        "cpus": f"{usable_cpus()} usable of {os.cpu_count()}",  # kanri's default --workers is the first
        "platform": platform.platform(),
        "mlserver": mlserver.VERSION,
        "model": MODEL_DESCRIPTION,
        "loadavg_at_start": f"{os.getloadavg()[0]:.2f}",
    }


def write_json(path: Path, results: dict[str, Result], settings: Settings, env: dict[str, str]) -> None:
    doc = {
        "settings": asdict(settings),
        "environment": env,
        "servers": {
            key: {
                "label": r.label,
                "processes": r.processes,
                "median": r.summary(),
                "rounds": [asdict(m) for m in r.rounds],
            }
            for key, r in results.items()
        },
        "ratios": {key: {**asdict(r), "met": r.met} for key, r in ratios(results).items()},
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


# ---------------------------------------------------------------- main


def run_rounds(targets: list[Target], settings: Settings, workdir: Path) -> dict[str, Result]:
    """Every target once per round; each round starts one target later (interleaved)."""
    results = {t.key: Result(t.label, t.processes) for t in targets}
    for r in range(settings.rounds):
        shift = r % len(targets)
        for target in targets[shift:] + targets[:shift]:
            m = measure(target, settings.load, workdir)
            results[target.key].rounds.append(m)
            log(
                f"round {r + 1}/{settings.rounds}  {target.label:<24} {m.rps:8.0f} req/s  p50 {m.p50_ms:6.2f} ms  "
                f"p99 {m.p99_ms:6.2f} ms  errors {m.errors}{'  ' + m.note if m.note else ''}"
                f"{'  connections per process ' + m.split if m.split else ''}"
            )
    return results


def run(args: argparse.Namespace) -> int:
    settings = make_settings(args)
    if shutil.which("h2load") is None:
        raise BenchError("h2load not found: apt-get install -y nghttp2-client")
    env = environment()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kanri-bench-")))
        log("training the digits model (LogisticRegression) ...")
        model = prepare_model(workdir, settings.sample)
        targets = start_targets(stack, settings, model, workdir, args.mlserver_venv)
        results = run_rounds(targets, settings, workdir)
    env["loadavg_at_end"] = f"{os.getloadavg()[0]:.2f}"
    print(format_report(results, settings, env))
    if args.json:
        write_json(args.json, results, settings, env)
        log(f"wrote {args.json}")
    return 1 if any(m.errors for r in results.values() for m in r.rounds) else 0


def main(argv: list[str] | None = None) -> int:
    return run_bench(lambda: run(parse_args(argv)), "servers stopped")

if __name__ == "__main__":
    sys.exit(main())
