"""A private Docker daemon: Debian's dockerd 20.10, installed when missing, on a socket of its own.

It never touches the host's network: no bridge (only --network host and none exist), no iptables rules, no IP
forwarding or masquerading. Its data root, with the base images, the built layers and the build cache,
lives under ~/.cache/kanri-tests/docker and survives between sessions; the runtime state (socket, containerd,
the network namespace file) goes in a folder of the session's, removed by `stop()`. One daemon at a time
uses a data root: a lock held while it runs makes a second session wait for the first.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.support.prometheus import debian_binary, wait_until

CACHE = Path(os.environ.get("KANRI_DOCKER_CACHE", Path.home() / ".cache" / "kanri-tests" / "docker"))
# The 20.10 client has BuildKit built in; a newer client elsewhere on PATH may lack the buildx plugin.
CLIENT = Path("/usr/bin/docker")
NO_NETWORK = ["--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false"]
# Old layers of rebuilt images go once the build cache passes this; the base images and current layers stay.
DAEMON_CONFIG = {"builder": {"gc": {"enabled": True, "defaultKeepStorage": "6GB"}}}
READY_SECONDS = 60
STOP_SECONDS = 30


class DockerError(RuntimeError):
    pass


@dataclass
class DockerEngine:
    folder: Path
    """The session's runtime state: socket, exec root, pidfile, the daemon's log."""
    data_root: Path = CACHE
    process: subprocess.Popen | None = None
    _lock: IO[str] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"unix://{self.folder / 'docker.sock'}"

    @property
    def log(self) -> Path:
        return self.folder / "dockerd.log"

    @classmethod
    def start(cls, data_root: Path = CACHE) -> DockerEngine:
        """Install docker.io when missing, start the daemon and wait until it answers; on failure nothing runs."""
        dockerd = debian_binary("dockerd", "docker.io")
        if not CLIENT.exists():
            raise DockerError(f"{CLIENT} is missing although docker.io is installed")
        engine = cls(Path(tempfile.mkdtemp(prefix="kanri-docker-")), data_root)
        try:
            engine._start(dockerd)
        except BaseException:
            engine.stop()
            raise
        return engine

    def docker(self, *args: str, timeout: float = 120) -> str:
        """Run the client against this daemon; its stdout, or DockerError with its output."""
        result = subprocess.run([str(CLIENT), *args], env=self._client_env(), capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise DockerError(f"docker {' '.join(args)} failed with {result.returncode}:\n"
                              f"{(result.stdout + result.stderr)[-4000:]}")
        return result.stdout

    def _client_env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "1"}

    def build(self, context: Path, tag: str, dockerfile: Path | None = None, build_args: dict[str, str] | None = None,
              labels: dict[str, str] | None = None, timeout: float = 1800) -> str:
        """Build with BuildKit on the host's network (apt and pip reach their archives through it); the
        progress goes to a log beside the daemon's, its end into the error when the build fails."""
        options = [f"--file={dockerfile or context / 'Dockerfile'}", f"--tag={tag}", "--network=host",
                   "--progress=plain"]
        options += [f"--build-arg={k}={v}" for k, v in (build_args or {}).items()]
        options += [f"--label={k}={v}" for k, v in (labels or {}).items()]
        log = self.folder / f"build-{tag.replace('/', '_').replace(':', '_')}.log"
        print(f"docker build {tag} (log: {log})", file=sys.stderr)
        with log.open("w") as output:
            done = subprocess.run([str(CLIENT), "build", *options, str(context)], env=self._client_env(),
                                  stdout=output, stderr=subprocess.STDOUT, timeout=timeout)
        if done.returncode != 0:
            raise DockerError(f"docker build {tag} failed with {done.returncode}:\n{log.read_text()[-6000:]}")
        return tag

    def image_label(self, image: str, label: str) -> str | None:
        """The image's label, or None when the image is missing."""
        try:
            labels = json.loads(self.docker("image", "inspect", "--format={{json .Config.Labels}}", image))
        except DockerError:
            return None
        return (labels or {}).get(label, "")

    def stop(self) -> None:
        """Remove every container, stop the daemon by PID (containerd goes with it), unmount what it left
        mounted (the network namespace file) and remove the session's folder; then free the data root."""
        if self.process is not None and self.process.poll() is None:
            self._remove_containers()
            _terminate(self.process.pid, self.process)
        for mount in _mounts_under(self.folder, self.data_root):
            subprocess.run(["umount", "--lazy", mount], capture_output=True, timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _start(self, dockerd: str) -> None:
        self.data_root.mkdir(parents=True, exist_ok=True)
        self._lock = (self.data_root.parent / f".{self.data_root.name}.lock").open("w")
        if not _try_lock(self._lock):
            print(f"waiting for another session's docker engine on {self.data_root}", file=sys.stderr)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._stop_leftover()
        config = self.folder / "daemon.json"
        config.write_text(json.dumps(DAEMON_CONFIG))
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [dockerd, f"--host={self.host}", f"--data-root={self.data_root}",
                 f"--exec-root={self.folder / 'exec'}", f"--pidfile={self.folder / 'dockerd.pid'}",
                 f"--config-file={config}", *NO_NETWORK], stdout=log, stderr=subprocess.STDOUT)
        self._leftover_pidfile.write_text(str(self.process.pid))
        wait_until(self._answers, READY_SECONDS, f"dockerd ready (log: {self.log})", interval=0.1)

    @property
    def _leftover_pidfile(self) -> Path:
        """The PID of the daemon last started on this data root, for a session that died without stopping it."""
        return self.data_root.parent / f".{self.data_root.name}.dockerd.pid"

    def _stop_leftover(self) -> None:
        try:
            pid = int(self._leftover_pidfile.read_text())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if command[0].endswith(b"dockerd") and f"--data-root={self.data_root}".encode() in command:
            print(f"stopping dockerd {pid}, left running on {self.data_root} by an earlier session", file=sys.stderr)
            _terminate(pid)

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise DockerError(f"dockerd exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        return subprocess.run([str(CLIENT), "version"], env=self._client_env(), capture_output=True,
                              timeout=10).returncode == 0

    def _remove_containers(self) -> None:
        try:
            if leftover := self.docker("ps", "--all", "--quiet").split():
                self.docker("rm", "--force", *leftover, timeout=60)
            self.docker("image", "prune", "--force", timeout=60)  # the untagged images of earlier builds
        except (DockerError, subprocess.TimeoutExpired) as exc:
            print(f"cleaning up the docker engine: {exc}", file=sys.stderr)


def _try_lock(lock: IO[str]) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _terminate(pid: int, process: subprocess.Popen | None = None) -> None:
    """SIGTERM, then SIGKILL after STOP_SECONDS; waits for the end (reaps it when it is our child)."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while _alive(pid, process) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid, process):
        os.kill(pid, signal.SIGKILL)
        if process is not None:
            process.wait()


def _alive(pid: int, process: subprocess.Popen | None) -> bool:
    if process is not None:
        return process.poll() is None
    return Path(f"/proc/{pid}").exists()


def _mounts_under(*folders: Path) -> list[str]:
    """Mount points below these folders, deepest first (dockerd leaves exec-root/netns/default mounted)."""
    prefixes = [f"{folder.resolve()}/" for folder in folders]
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    return sorted((p for p in points if any(p.startswith(prefix) for prefix in prefixes)), key=len, reverse=True)
