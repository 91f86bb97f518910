"""`kanri demo` as a new user runs it, on the real local cluster, in a throwaway XDG home.

One flow, because setting the demo up is the expensive part: an interrupted
run is completed, traffic flows at every level without a failure, the curl
line it prints answers through the production router's HTTP port, a second
run adds nothing, production switches to v2 under traffic without a failed
request, and `--down` leaves neither a process nor a file, even when the
supervisor was stopped before and left the replicas serving.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kanri.console.cli import main
from kanri.console.cluster.local.control import processes_naming
from kanri.console.cluster.local.processes import free_port
from kanri.console.demo.artifacts import ensure_trained, held_out_images
from kanri.console.demo.plan import APP, LEVELS, MODELS, PREDICTOR, demo_settings
from kanri.console.demo.traffic import Traffic
from kanri.console.ops import applications, models, routes, services
from kanri.console.wiring import open_context

pytestmark = pytest.mark.timeout(150)


def kanri(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), prog_name="kanri", catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


def interrupted_after_registering_v1(home: Path) -> None:
    """What a first run killed halfway leaves: trained models, the application and v1, nothing deployed."""
    ctx = open_context(demo_settings(home))
    try:
        folder = ensure_trained(home, lambda _line: None)
        applications.create_app(ctx, APP, PREDICTOR)
        models.upload_model(ctx, APP, folder / next(iter(MODELS)))
    finally:
        ctx.registry.close()


def test_demo_up_traffic_again_switch_and_down(demo_home: Path, tmp_path: Path) -> None:
    interrupted_after_registering_v1(demo_home)

    first = kanri("demo", "--no-console", "--traffic-seconds", "3", "--json")
    assert "found model digits v1" in first.stderr and "registered model digits v2" in first.stderr
    assert "registered application" not in first.stderr
    seen = json.loads(first.stdout)["levels"]
    assert list(seen) == list(LEVELS)
    for level, stats in seen.items():
        assert stats["ok"] > 0 and stats["failed"] == 0, (level, stats)
    assert set(seen["development"]["versions"]) == set(seen["staging"]["versions"]) == {"2"}
    assert set(seen["production"]["versions"]) == {"1"}
    [curl] = re.findall(r"^call production over HTTP: (curl .+)$", first.stderr, re.MULTILINE)
    called = subprocess.run(shlex.split(curl), capture_output=True, text=True, timeout=30, check=True)
    answer = json.loads(called.stdout)
    assert answer["output"] in set("0123456789") and answer["model_version"] == "1", answer

    ctx = open_context(demo_settings(demo_home))
    try:
        assert [app.name for app in applications.list_apps(ctx)] == [APP]
        assert [m.version for m in models.list_models(ctx, APP)] == [1, 2]
        deployed = {s.name: (s.level, s.model_version, s.replicas, s.converged)
                    for s in services.list_services(ctx, APP)}
        assert deployed == {"digits-dev": ("development", 2, 1, True), "digits-stg": ("staging", 2, 1, True),
                            "digits-prod": ("production", 1, 2, True), "digits-prod-b": ("production", 1, 1, True)}
        assert routes.show_route(ctx, APP, "production").weights == {"digits-prod": 90, "digits-prod-b": 10}

        again = kanri("demo", "--no-console", "--traffic-seconds", "0")
        assert "registered" not in again.stderr and "starting" not in again.stderr
        assert [m.version for m in models.list_models(ctx, APP)] == [1, 2]
        assert len(services.list_services(ctx, APP)) == 4
        assert "kanri demo --down" in again.stdout and f"KANRI_HOME={demo_home} kanri console" in again.stdout

        addresses = {level: ctx.backend.address(APP, level) for level in LEVELS}
        with Traffic(APP, addresses, held_out_images(demo_home), rate=40) as traffic:
            services.switch(ctx, APP, "digits-prod", 2)
            rollout = list(services.watch_rollout(ctx, APP, "digits-prod", timeout=60))
            time.sleep(0.5)  # a moment of traffic on the converged service
        assert rollout[-1].converged
        production = traffic.stats()["production"]
        assert production.failed == 0, production.last_error
        assert production.versions.get("2", 0) > 0 and production.ok == sum(production.versions.values())
    finally:
        ctx.registry.close()

    kanri("local", "down", "--keep-serving", "--home", str(demo_home))  # replicas and routers left on their own
    down = kanri("demo", "--down")
    stopped = re.search(r"stopped the demo's local cluster: its supervisor, (\d+) replica\(s\) and 6 router\(s\)",
                        down.stdout)
    assert stopped and int(stopped[1]) >= 5, down.stdout  # and any replica the switch left draining
    assert f"deleted {demo_home}" in down.stdout
    assert not demo_home.exists()
    assert [" ".join(p.info["cmdline"]) for p in processes_naming(demo_home)] == []
    assert not (tmp_path / "users-home").exists()
    assert "no demo to remove" in kanri("demo", "--down").stdout


def test_traffic_counts_every_failed_call_and_stops_promptly() -> None:
    nothing_listens = f"127.0.0.1:{free_port()}"
    traffic = Traffic(APP, {"production": nothing_listens}, [[0] * 64], rate=50, timeout=1.0).start()
    time.sleep(0.5)
    started = time.monotonic()
    traffic.stop()
    assert time.monotonic() - started < 1.0
    stats = traffic.stats()["production"]
    assert stats.ok == 0 and stats.failed >= 10 and "Connection refused" in stats.last_error
    assert traffic.summary() == f"traffic 50/s · 0 ok · {stats.failed} failed"
    assert traffic.stats()["production"].failed == stats.failed  # nothing is sent after stop()
