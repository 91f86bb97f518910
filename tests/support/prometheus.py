"""A real Prometheus for tests and benchmarks: Debian's package, installed when missing, on a loopback port.

Targets come from file_sd files the caller rewrites (`set_targets`), so one
server can start before the processes it scrapes. It scrapes every second by default,
yet a fresh server answers its first sample only after about 5 s: poll with
`wait_until`, never sleep.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.support.servers import free_port

T = TypeVar("T")

# Exporters publish other pods' series (cAdvisor, DCGM): their pod labels must win over the target's.
CONFIG = """\
global:
  scrape_interval: {interval}
  scrape_timeout: {interval}
  evaluation_interval: {interval}
scrape_configs:
  - job_name: exporters
    honor_labels: true
    file_sd_configs: [{{files: ["{folder}/exporters.json"], refresh_interval: 1s}}]
  - job_name: kanri
    file_sd_configs: [{{files: ["{folder}/kanri.json"], refresh_interval: 1s}}]
"""


def debian_binary(name: str, package: str) -> str:
    """An executable from a Debian package, installing the package first when it is missing."""
    found = shutil.which(name)
    if found:
        return found
    install = subprocess.run(["apt-get", "install", "-y", package], capture_output=True, text=True)
    if install.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update"], capture_output=True, text=True)
        install = subprocess.run(["apt-get", "install", "-y", package], capture_output=True, text=True)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"could not install {name} (apt-get install -y {package}):\n{install.stderr[-2000:]}")
    return found


def prometheus_binary() -> str:
    return debian_binary("prometheus", "prometheus")


def promtool_test_rules(folder: Path, tests: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` on the unit tests `tests`, written into `folder` beside the rule files they name."""
    (folder / "test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    return subprocess.run([debian_binary("promtool", "prometheus"), "test", "rules", "test.yml"], cwd=folder,
                          capture_output=True, text=True, timeout=60)


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll `check` until it answers something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(interval)


@dataclass
class Prometheus:
    folder: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, scrape_interval: str = "1s", extra_config: str = "") -> Prometheus:
        """`extra_config`: more top-level configuration, e.g. rule_files and alerting."""
        folder = Path(tempfile.mkdtemp(prefix="kanri-prometheus-"))
        (folder / "prometheus.yml").write_text(CONFIG.format(folder=folder, interval=scrape_interval) + extra_config)
        server = cls(folder, free_port())
        server.set_targets("exporters", [])
        server.set_targets("kanri", [])
        server.restart()
        return server

    def restart(self) -> None:
        """Start (again, on the same port and data) and wait until ready."""
        log = (self.folder / "prometheus.log").open("a")
        self.process = subprocess.Popen(
            [prometheus_binary(), f"--config.file={self.folder / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.folder / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, 20, f"Prometheus ready at {self.url} (log: {self.folder / 'prometheus.log'})",
                   interval=0.05)

    def _ready(self) -> bool:
        return says_ready(self.url, self.process, self.folder / "prometheus.log")

    def set_targets(self, job: str, targets: list[tuple[str, dict[str, str]]]) -> None:
        """Scrape these host:port targets, each with its extra labels (e.g. pod, namespace)."""
        groups = [{"targets": [address], "labels": labels} for address, labels in targets]
        staging = self.folder / f".{job}.json"
        staging.write_text(json.dumps(groups))
        staging.replace(self.folder / f"{job}.json")  # atomically: Prometheus must never read half a file

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        stop_server(self.process, self.folder)


def says_ready(url: str, process: subprocess.Popen | None, log: Path) -> bool:
    """Whether a Prometheus or Alertmanager at `url` answers /-/ready; raises with its log's end once it exited."""
    if process is not None and process.poll() is not None:
        raise RuntimeError(f"{Path(str(process.args[0])).name} exited with {process.returncode}: "
                           f"{log.read_text()[-2000:]}")
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def stop_server(process: subprocess.Popen | None, folder: Path, grace: float = 10.0) -> None:
    """Terminate the server (killed after grace seconds) and remove its folder."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    shutil.rmtree(folder, ignore_errors=True)
