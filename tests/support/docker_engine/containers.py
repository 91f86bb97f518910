"""Containers for tests, always on the host's network (the engine has no other but none), always removed.

A container listens where its process binds: pass KANRI_HOST=127.0.0.1 and free ports, or it listens on
every interface of the host.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.docker_engine.engine import DockerEngine


@dataclass(frozen=True)
class Container:
    engine: DockerEngine
    id: str

    def logs(self) -> str:
        return self.engine.docker("logs", self.id)

    def state(self) -> dict:
        """docker inspect's State: Running, ExitCode, Pid, ..."""
        return json.loads(self.engine.docker("inspect", "--format={{json .State}}", self.id))

    def check_running(self) -> None:
        """Raises with the container's log once it ended."""
        state = self.state()
        if not state["Running"]:
            raise AssertionError(f"the container exited with {state['ExitCode']}:\n{self.logs()[-3000:]}")

    def user(self) -> tuple[int, int]:
        """The uid and gid its main process runs as, read from the host's /proc (effective = real here)."""
        status = Path(f"/proc/{self.state()['Pid']}/status").read_text().splitlines()
        uid, gid = (int(line.split()[2]) for line in status if line.startswith(("Uid:", "Gid:")))
        return uid, gid

    def stop(self, grace: int = 10) -> float:
        """`docker stop -t grace`: SIGTERM, then SIGKILL after `grace` seconds; the seconds it took."""
        began = time.monotonic()
        self.engine.docker("stop", f"--time={grace}", self.id, timeout=grace + 30)
        return time.monotonic() - began


def mount(source: Path, target: str, read_only: bool = True) -> str:
    return f"--volume={source}:{target}{':ro' if read_only else ''}"


def env(**values: object) -> list[str]:
    return [f"--env={name}={value}" for name, value in values.items()]


def run(engine: DockerEngine, image: str, *command: str, options: list[str] | None = None,
        timeout: float = 120) -> str:
    """Run to the end and remove; its output, or DockerError with it when it failed."""
    return engine.docker("run", "--rm", "--network=host", *(options or []), image, *command, timeout=timeout)


@contextmanager
def running(engine: DockerEngine, image: str, *command: str, options: list[str] | None = None) -> Iterator[Container]:
    """A container started in the background, removed (killed first when need be) on leaving."""
    container = Container(engine, engine.docker("run", "--detach", "--network=host", *(options or []), image,
                                                *command).strip())
    try:
        yield container
    finally:
        engine.docker("rm", "--force", container.id)
