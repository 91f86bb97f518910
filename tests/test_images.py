"""The container images, built from docker/*.Dockerfile and run on a real Docker engine (tests/support/
docker_engine): the serving image answers health, Predict and /metrics from inside its container, with
traces exported too, runs as its user and stops at once; the fetch image clones as the init container does,
files the runtime can read, and stops at once mid-clone; the console image runs kanri and stops at once;
each installs only what docker/constraints.txt pins.

The first run on a machine makes the base images and builds every layer (minutes); later runs find them
cached under ~/.cache/kanri-tests/docker and take seconds.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import tempfile
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2

from kanri.console.cluster.kubernetes import pod
from kanri.serving.client import Client
from tests.support.docker_engine.containers import Container, env, mount, run, running
from tests.support.docker_engine.engine import DockerEngine
from tests.support.otlp import trace_receiver
from tests.support.prometheus import wait_until
from tests.support.servers import free_port, health_status

pytestmark = pytest.mark.timeout(1800)  # the first run on a machine builds everything

ROOT = Path(__file__).resolve().parents[1]
PREDICTORS = ROOT / "tests" / "support" / "predictors.py"
IMAGES = ("serving", "fetch", "console")
STOP_SECONDS = 1.0
# PID 1 then supervises the workers, as on a pod with 2 CPUs or more. The tests stop it only once every worker
# listens: SIGTERM passed on to a worker still importing kills it (-15) and the supervisor exits 1.
WORKERS = 2
SIGTERM_EXIT = 143


@pytest.fixture(scope="module")
def images(docker_engine: DockerEngine) -> dict[str, str]:
    """The three images, tagged localhost/kanri-NAME:test."""
    return {name: docker_engine.build(ROOT, f"localhost/kanri-{name}:test", ROOT / "docker" / f"{name}.Dockerfile")
            for name in IMAGES}


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder every uid may read (pytest's tmp_path is root's alone), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="kanri-images-") as folder:
        Path(folder).chmod(0o755)
        yield Path(folder)


@pytest.fixture
def echo_predictor(shared_folder: Path) -> Path:
    """tests/support/predictors.py and a model file for its Echo, as the folder tiny/."""
    folder = shared_folder / "tiny"
    folder.mkdir(mode=0o755)
    shutil.copy(PREDICTORS, folder / "predictors.py")
    (folder / "model.txt").write_text("hello\n")
    return folder


@contextmanager
def serving(engine: DockerEngine, image: str, predictor: str, model: str, *options: str,
            **variables: object) -> Iterator[tuple[Container, dict[str, int]]]:
    """The serving image's container on free loopback ports, with WORKERS processes (PID 1 supervises them),
    once every worker listens and its health says SERVING."""
    ports = {"grpc": free_port(), "http": free_port(), "metrics": free_port()}
    settings = env(KANRI_HOST="127.0.0.1", KANRI_PORT=ports["grpc"], KANRI_HTTP_PORT=ports["http"],
                   KANRI_METRICS_PORT=ports["metrics"], KANRI_WORKERS=WORKERS, **variables)
    with running(engine, image, "--predictor", predictor, "--model", model,
                 options=[*settings, *options]) as container:
        def serving() -> bool:
            container.check_running()
            return (container.logs().count('"message": "listening on ') == WORKERS
                    and health_status(f"127.0.0.1:{ports['grpc']}") == health_pb2.HealthCheckResponse.SERVING)

        wait_until(serving, 60, "every worker listening, health SERVING")
        yield container, ports


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def _stops_cleanly(container: Container, exit_code: int = 0) -> None:
    took = container.stop()
    assert took < STOP_SECONDS, f"docker stop took {took:.2f}s:\n{container.logs()[-2000:]}"
    assert container.state()["ExitCode"] == exit_code, container.logs()[-2000:]


# The serving image.

def test_the_serving_image_serves_health_predict_and_metrics_and_stops_at_once(
        docker_engine: DockerEngine, images: dict[str, str], echo_predictor: Path) -> None:
    with serving(docker_engine, images["serving"], "tiny.predictors:Echo", "/srv/predictor/tiny/model.txt",
                 mount(echo_predictor, "/srv/predictor/tiny")) as (container, ports):
        with Client(f"127.0.0.1:{ports['grpc']}") as client:
            assert client.predict("world").label == "hello:world"
        assert _get(f"http://127.0.0.1:{ports['http']}/v2/health/ready")[0] == 200
        status, metrics = _get(f"http://127.0.0.1:{ports['metrics']}/metrics")
        assert status == 200 and "kanri_requests_total" in metrics
        assert container.user() == (pod.RUNTIME_UID, pod.RUNTIME_UID)
        _stops_cleanly(container)


def test_the_serving_image_exports_traces_to_an_otlp_endpoint(
        docker_engine: DockerEngine, images: dict[str, str], echo_predictor: Path) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT, as a cluster may inject it, turns tracing on: the image has kanri[tracing]."""
    with trace_receiver() as receiver, serving(
            docker_engine, images["serving"], "tiny.predictors:Echo", "/srv/predictor/tiny/model.txt",
            mount(echo_predictor, "/srv/predictor/tiny"), OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY=50) as (_, ports):
        with Client(f"127.0.0.1:{ports['grpc']}") as client:
            client.predict("traced")
        wait_until(receiver.spans, 30, "spans exported from the container")


def test_the_serving_image_serves_the_digits_example(
        docker_engine: DockerEngine, images: dict[str, str], digits_models: dict[str, Path],
        shared_folder: Path) -> None:
    """A real scikit-learn model, saved with skops: the image's default extras include kanri[sklearn]."""
    shutil.copy(digits_models["digits-v1.skops"], shared_folder / "digits-v1.skops")
    example = json.loads(digits_models["digits-test.jsonl"].read_text().splitlines()[0])
    with serving(docker_engine, images["serving"], "digits.predictor:Digits", "/models/digits-v1.skops",
                 mount(ROOT / "examples" / "digits", "/srv/predictor/digits"), mount(shared_folder, "/models")) as (
            _, ports), Client(f"127.0.0.1:{ports['grpc']}") as client:
        assert client.predict(example["input"]).label == example["label"]


# The fetch image: the init container of every pod kanri renders.

def _predictor_repository(folder: Path, owner: int) -> Path:
    """A bare repository with tiny/predictors.py on the branch release, owned by `owner` as git wants it."""
    work, bare = folder / "work", folder / "predictor.git"
    (work / "tiny").mkdir(parents=True)
    shutil.copy(PREDICTORS, work / "tiny" / "predictors.py")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q", "-b", "release"], ["add", "."], ["commit", "-q", "-m", "predictor"]):
        subprocess.run([*git, *command], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    subprocess.run(["chown", "-R", str(owner), str(bare)], check=True)
    return bare


def test_the_fetch_image_clones_as_the_init_container_for_the_runtime(
        docker_engine: DockerEngine, images: dict[str, str], shared_folder: Path) -> None:
    """As the pod runs it: istio-proxy's uid, the pod's group, into an emptyDir prepared for fsGroup (setgid,
    group-writable); the runtime's user then imports the clone."""
    group = pod.RUNTIME_UID
    bare = _predictor_repository(shared_folder, pod.PROXY_UID)
    target = shared_folder / "fetched"
    target.mkdir()
    subprocess.run(["chown", f"0:{group}", str(target)], check=True)
    target.chmod(0o2775)
    said = run(docker_engine, images["fetch"], options=[
        f"--user={pod.PROXY_UID}:{group}", f"--group-add={group}", mount(bare, "/repo.git"),
        mount(target, pod.FETCHED_DIR, read_only=False),
        *env(GIT_URL="file:///repo.git", GIT_BRANCH="release", GIT_USERNAME="u", GIT_PASSWORD="token")])
    assert "cloning file:///repo.git at release" in said and "token" not in said
    assert (target / "tiny" / "predictors.py").read_text() == PREDICTORS.read_text()
    assert not (target / ".git").exists()
    imported = run(docker_engine, images["serving"], "-c", "from tiny.predictors import Echo; print(Echo.__name__)",
                   options=["--entrypoint=python", mount(target, pod.FETCHED_DIR), *env(PYTHONPATH=pod.PYTHONPATH)])
    assert imported.strip() == "Echo"


def test_the_fetch_image_stops_at_once_mid_clone(docker_engine: DockerEngine, images: dict[str, str]) -> None:
    """SIGTERM reaches the clone although a shell script is PID 1: a server that never answers holds it."""
    with socket.create_server(("127.0.0.1", 0)) as silent, running(
            docker_engine, images["fetch"], "/tmp/clone",
            options=env(GIT_URL=f"http://127.0.0.1:{silent.getsockname()[1]}/repo.git")) as container:
        wait_until(lambda: "cloning" in container.logs(), 30, "the clone started")
        _stops_cleanly(container, SIGTERM_EXIT)


# The console image.

def test_the_console_image_runs_kanri_and_stops_at_once(docker_engine: DockerEngine, images: dict[str, str]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert run(docker_engine, images["console"], "kanri", "--version").strip() == f"kanri, version {version}"
    # What the Job kanri-db-upgrade runs: the registry's migrations ship in the image.
    migrated = run(docker_engine, images["console"], "kanri", "db", "upgrade",
                   options=env(KANRI_DATABASE_URL="sqlite:////tmp/registry.db"))
    assert re.search(r"schema none → \d{4}", migrated), migrated
    with running(docker_engine, images["console"]) as container:
        wait_until(lambda: container.state()["Running"], 30, "the console running")
        assert container.user() == (pod.RUNTIME_UID, pod.RUNTIME_UID)
        _stops_cleanly(container)


# What the images hold.

def _pins() -> dict[str, str]:
    lines = (ROOT / "docker" / "constraints.txt").read_text().splitlines()
    return dict(_canonical(line).split("==") for line in lines if line and not line.startswith("#"))


def _canonical(requirement: str) -> str:
    name, _, rest = requirement.partition("==")
    return re.sub(r"[-_.]+", "-", name).lower() + (f"=={rest}" if rest else "")


def _installed(engine: DockerEngine, image: str) -> dict[str, str]:
    listed = run(engine, image, "-c", "import importlib.metadata as m, json; "
                 "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
                 options=["--entrypoint=python"])
    return {_canonical(name): version for name, version in json.loads(listed).items()}


@pytest.mark.parametrize("image", ["serving", "console"])
def test_the_images_install_only_what_the_constraints_pin(docker_engine: DockerEngine, images: dict[str, str],
                                                          image: str) -> None:
    """Besides kanri itself and the virtual environment's own pip and setuptools, which come with the base
    image's Python."""
    installed = _installed(docker_engine, images[image])
    unpinned = {name: version for name, version in installed.items()
                if name not in ("kanri", "pip", "setuptools") and _pins().get(name) != version}
    assert not unpinned, f"installed but not pinned by docker/constraints.txt: {unpinned}"


def test_the_serving_image_holds_the_runtime_alone(docker_engine: DockerEngine, images: dict[str, str]) -> None:
    """None of the console's dependencies, and no git (the fetch image's)."""
    installed = _installed(docker_engine, images["serving"])
    expected = {"scikit-learn", "skops", "opentelemetry-exporter-otlp-proto-grpc", "pyjwt", "s3fs", "gcsfs"}
    assert expected <= set(installed)
    assert not {"sqlalchemy", "alembic", "kubernetes", "textual", "elasticsearch"} & set(installed)
    assert not run(docker_engine, images["serving"], "-c", "command -v git || true", options=["--entrypoint=sh"])


def test_image_sizes(docker_engine: DockerEngine, images: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    sizes = {name: int(docker_engine.docker("image", "inspect", "--format={{.Size}}", tag)) for name, tag in
             images.items()}
    with capsys.disabled():
        print("\nimage sizes: " + ", ".join(f"{name} {size / 1e6:.0f} MB" for name, size in sizes.items()))
    assert sizes["fetch"] < sizes["serving"] < sizes["console"]
