"""LogSource: one contract for LocalFileLogs (files), ElasticsearchLogs (the Elasticsearch fake: osmem-server
behind a header proxy) and KubernetesPodLogs (a fake pod-log API), all fed with lines written by real
runtimes; then what each adapter must cope with on its own."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers
from kubernetes import client as k8s

from kanri.console.telemetry import (
    ElasticsearchLogs,
    KubernetesPodLogs,
    LocalFileLogs,
    LogLine,
    LogPage,
    LogQuery,
    LogSource,
    TelemetryUnavailable,
    follow,
    levels_at_least,
)
from kanri.console.telemetry.loglines import parse_timestamp
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.pod_logs import FakePodLogs
from tests.support.pod_objects import GIT_FAILED
from tests.support.telemetry_fleet import (
    APP,
    Fleet,
    LogStore,
    Replica,
    Shipper,
    elasticsearch_store,
    kanri_cli,
    pod_logs_store,
)

pytest_plugins = ["tests.support.telemetry_fixtures"]

WEB = "testapp-web"


def key(line: LogLine) -> tuple:
    return line.pod, line.timestamp, line.message, line.fields.get("latency_ms")


def record_key(record: dict) -> tuple:
    return record["pod"], parse_timestamp(record["@timestamp"]), record["message"], record.get("latency_ms")


def written_key(replica: Replica, text: str) -> tuple:
    return record_key({**json.loads(text), "pod": replica.name})


def ship(store: LogStore, shipper: Shipper, at_least: int = 1) -> list[tuple]:
    """New lines from every replica into the store; their keys."""
    shipped = []
    for replica, lines in shipper.new_lines(at_least).items():
        store.write(replica, lines)
        shipped += [written_key(replica, line) for line in lines]
    return shipped


def page(answer: LogPage | TelemetryUnavailable) -> LogPage:
    assert isinstance(answer, LogPage), answer
    return answer


@pytest.fixture
def shipper(fleet: Fleet) -> Shipper:
    return Shipper(fleet)


def test_search_returns_the_newest_lines_oldest_first(log_store: LogStore, shipper: Shipper) -> None:
    shipped = ship(log_store, shipper, at_least=20)
    found = page(log_store.source.search(LogQuery(APP, limit=15))).lines
    assert len(found) == 15
    assert [line.timestamp for line in found] == sorted(line.timestamp for line in found)
    assert all(key(line) in shipped for line in found)
    assert {k for k in shipped if k[1] > found[0].timestamp} <= {key(line) for line in found}
    assert {line.app for line in found} == {APP} and {line.service_level for line in found} == {"production"}


def test_filters_narrow_by_service_pod_level_and_text(log_store: LogStore, shipper: Shipper) -> None:
    ship(log_store, shipper, at_least=30)
    search = log_store.source.search
    assert {line.service for line in page(search(LogQuery(APP, service=WEB))).lines} == {WEB}
    assert {line.pod for line in page(search(LogQuery(APP, pod="testapp-web-b"))).lines} == {"testapp-web-b"}
    warnings = page(search(LogQuery(APP, levels=levels_at_least("warning"), limit=1000))).lines
    assert warnings and {line.level for line in warnings} == {"warning"}
    exploded = page(search(LogQuery(APP, text="model EXPLODED", limit=1000))).lines
    assert exploded and all("the model exploded" in line.message for line in exploded)
    assert {line.fields["code"] for line in exploded} == {"INTERNAL"}
    assert page(search(LogQuery(APP, text="a/b:c (d"))).lines == ()  # words, not query syntax
    assert page(search(LogQuery("no-such-app"))).lines == ()


def test_search_back_in_time(log_store: LogStore, shipper: Shipper) -> None:
    shipped = sorted(ship(log_store, shipper, at_least=20), key=lambda k: k[1])
    middle = shipped[len(shipped) // 2][1]
    earlier = page(log_store.source.search(LogQuery(APP, until=middle, limit=5))).lines
    assert len(earlier) == 5 and all(line.timestamp <= middle for line in earlier)
    later = page(log_store.source.search(LogQuery(APP, since=middle, limit=10_000))).lines
    assert {k for k in shipped if k[1] >= middle} == {key(line) for line in later}


def test_polls_deliver_every_new_line_exactly_once(log_store: LogStore, shipper: Shipper) -> None:
    ship(log_store, shipper, at_least=5)
    cursor = page(log_store.source.search(LogQuery(APP))).cursor
    shipped: list[tuple] = []
    delivered: list[tuple] = []
    for _ in range(3):
        nothing = page(log_store.source.poll(LogQuery(APP), cursor))
        assert nothing.lines == ()
        shipped += ship(log_store, shipper, at_least=3)
        new = page(log_store.source.poll(LogQuery(APP), nothing.cursor))
        delivered += [key(line) for line in new.lines]
        cursor = new.cursor
    assert Counter(delivered) == Counter(shipped)


def test_follow_gives_the_last_lines_then_new_ones(log_store: LogStore, shipper: Shipper) -> None:
    backlog = ship(log_store, shipper, at_least=3)
    stop = threading.Event()
    pages = follow(log_store.source, LogQuery(APP, service=WEB, limit=100_000), interval=0.05, stop=stop)
    first = next(pages)
    assert {key(line) for line in first.lines} == {k for k in backlog if k[0].startswith(WEB)}
    fresh = {k for k in ship(log_store, shipper, at_least=2) if k[0].startswith(WEB)}
    seen: set[tuple] = set()
    for answer in pages:
        seen |= {key(line) for line in page(answer).lines}
        if seen >= fresh:
            stop.set()
    assert seen == fresh


def test_a_cursor_of_another_source_is_refused(log_store: LogStore) -> None:
    answer = log_store.source.poll(LogQuery(APP), object())
    assert isinstance(answer, TelemetryUnavailable) and "cursor" in answer.reason


# LocalFileLogs: what files do to a tail.

def line_json(message: str, pod: str = "testapp-web-a", second: int = 0, level: str = "info") -> str:
    return json.dumps({"@timestamp": f"2026-11-23T07:00:{second:02d}.000+00:00", "level": level, "app": APP,
                       "service": WEB, "service_level": "production", "pod": pod, "message": message})


def append(path: Path, *lines: str, end: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("\n".join(lines) + end)


@pytest.fixture
def files(tmp_path: Path) -> LocalFileLogs:
    return LocalFileLogs(tmp_path)


def pod_file(root: Path, pod: str = "testapp-web-a") -> Path:
    return root / APP / WEB / f"{pod}.log"


def test_files_take_non_json_lines_as_raw_with_identity_from_the_path(files: LocalFileLogs) -> None:
    path = pod_file(files.logs_dir)
    append(path, line_json("starting", second=1), "Traceback (most recent call last):",
           '  File "predictor.py", line 3', "ImportError: no module named torch")
    lines = page(files.search(LogQuery(APP))).lines
    assert [line.level for line in lines] == ["info", "raw", "raw", "raw"]
    raw = lines[1]
    assert (raw.app, raw.service, raw.pod, raw.service_level) == (APP, WEB, "testapp-web-a", "production")
    assert raw.timestamp == lines[0].timestamp and raw.message == "Traceback (most recent call last):"
    assert [line.message for line in page(files.search(LogQuery(APP, text="importerror"))).lines] == [
        "ImportError: no module named torch"]


def test_files_half_written_line_waits_for_its_end(files: LocalFileLogs) -> None:
    path = pod_file(files.logs_dir)
    append(path, line_json("one"))
    cursor = page(files.search(LogQuery(APP))).cursor
    half = line_json("two")
    append(path, half[:20], end="")
    waiting = page(files.poll(LogQuery(APP), cursor))
    assert waiting.lines == ()
    append(path, half[20:])
    assert [line.message for line in page(files.poll(LogQuery(APP), waiting.cursor)).lines] == ["two"]


def test_files_that_appear_truncate_or_rotate(files: LocalFileLogs) -> None:
    a, b = pod_file(files.logs_dir), pod_file(files.logs_dir, "testapp-web-b")
    append(a, line_json("a1", second=1))
    cursor = page(files.search(LogQuery(APP))).cursor

    append(b, line_json("b1", "testapp-web-b", second=2))  # a replica that started later
    answer = page(files.poll(LogQuery(APP), cursor))
    assert [line.message for line in answer.lines] == ["b1"]

    a.write_text(line_json("a2 after truncation", second=3) + "\n")  # truncated in place
    answer = page(files.poll(LogQuery(APP), answer.cursor))
    assert [line.message for line in answer.lines] == ["a2 after truncation"]

    append(a, line_json("a3 unread before rotation", second=4))
    a.rename(a.with_name(a.name + ".1"))
    append(a, line_json("a4 in the new file", second=5))
    answer = page(files.poll(LogQuery(APP), answer.cursor))
    assert [line.message for line in answer.lines] == ["a3 unread before rotation", "a4 in the new file"]
    assert page(files.poll(LogQuery(APP), answer.cursor)).lines == ()


def test_files_without_a_folder_yet_answer_no_lines(tmp_path: Path) -> None:
    assert page(LocalFileLogs(tmp_path / "not-yet").search(LogQuery(APP))).lines == ()


# ElasticsearchLogs: lines reach the index out of order.

@pytest.fixture
def index(fake_elasticsearch: FakeElasticsearch) -> tuple[Elasticsearch, str]:
    return Elasticsearch(fake_elasticsearch.url), f"kanri-logs-{uuid.uuid4().hex[:8]}"


def index_lines(client: Elasticsearch, name: str, *records: dict) -> None:
    helpers.bulk(client, ({"_index": f"{name}-2026.11.23", "_source": {**r, "log_id": str(uuid.uuid4())}}
                          for r in records), refresh="true")


def record(message: str, when: datetime) -> dict:
    return {**json.loads(line_json(message)), "@timestamp": when.isoformat(timespec="milliseconds")}


def test_elasticsearch_delivers_a_late_line_once(index: tuple[Elasticsearch, str]) -> None:
    client, name = index
    source = ElasticsearchLogs(client, index=f"{name}-*", settle_seconds=30)
    now = datetime.now(UTC)
    index_lines(client, name, record("first", now - timedelta(seconds=2)), record("third", now))
    answer = page(source.search(LogQuery(APP)))
    assert [line.message for line in answer.lines] == ["first", "third"]
    # Shipped late by a slower node: older than the newest line already delivered.
    index_lines(client, name, record("second, late", now - timedelta(seconds=1)))
    answer = page(source.poll(LogQuery(APP), answer.cursor))
    assert [line.message for line in answer.lines] == ["second, late"]
    assert page(source.poll(LogQuery(APP), answer.cursor)).lines == ()


def test_elasticsearch_pages_a_large_backlog(index: tuple[Elasticsearch, str]) -> None:
    client, name = index
    source = ElasticsearchLogs(client, index=f"{name}-*", page_size=7, max_lines=20, settle_seconds=0)
    start = datetime.now(UTC) - timedelta(minutes=1)
    index_lines(client, name, record("before", start - timedelta(seconds=1)))
    cursor = page(source.search(LogQuery(APP))).cursor
    index_lines(client, name, *(record(f"line {i}", start + timedelta(milliseconds=i // 3)) for i in range(50)))
    delivered, answer = [], page(source.poll(LogQuery(APP), cursor))
    while True:
        delivered += [line.message for line in answer.lines]
        if not answer.more:
            break
        answer = page(source.poll(LogQuery(APP), answer.cursor))
    assert sorted(delivered) == sorted(f"line {i}" for i in range(50))


# KubernetesPodLogs: pods come and go.

def test_pod_logs_follow_a_pod_that_starts_later(fake_pod_logs: FakePodLogs, fleet: Fleet) -> None:
    store = pod_logs_store(fake_pod_logs)
    web_a, web_b = fleet.replicas[0], fleet.replicas[1]
    store.write(web_a, [line_json("a1")])
    cursor = page(store.source.search(LogQuery(APP))).cursor
    store.write(web_b, [line_json("b1", "testapp-web-b"), "panic: raw output of a new pod"])
    answer = page(store.source.poll(LogQuery(APP), cursor))
    assert [(line.pod, line.level, line.message) for line in answer.lines] == [
        ("testapp-web-b", "info", "b1"), ("testapp-web-b", "raw", "panic: raw output of a new pod")]
    assert answer.lines[1].service == WEB and answer.lines[1].service_level == "production"


SIDECAR = ("kanri", "istio-proxy")
ENVOY = '[2026-12-04T10:00:00.000Z] "POST /kanri.v1.Predictor/Predict HTTP/2" 200 - via_upstream'


@pytest.fixture
def pods_in(fake_pod_logs: FakePodLogs) -> Callable[..., str]:
    """A fresh namespace with pods of APP's web service (the runtime, an Istio sidecar, the predictor fetch)."""
    namespace = f"ns-{uuid.uuid4().hex[:8]}"

    def add(*names: str, **options: Any) -> str:
        options.setdefault("containers", SIDECAR)
        for name in names:
            fake_pod_logs.add_pod(namespace, name, {"kanri.io/app": APP, "kanri.io/service": WEB,
                                                    "kanri.io/service-level": "production"}, **options)
        return namespace

    return add


def pod_logs(fake: FakePodLogs, namespace: str, **options: Any) -> KubernetesPodLogs:
    return KubernetesPodLogs(k8s.ApiClient(k8s.Configuration(host=fake.url)), namespace, **options)


def refusal(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(k8s.ApiException) as refused:
        call()
    return refused.value.status, json.loads(refused.value.body)["message"]


def test_the_fake_refuses_pod_log_reads_as_the_api_server_does(fake_pod_logs: FakePodLogs,
                                                              pods_in: Callable[..., str]) -> None:
    namespace = pods_in("web-a")
    pods_in("web-b", containers=("kanri",), waiting={"kanri": "PodInitializing"})
    api = k8s.CoreV1Api(k8s.ApiClient(k8s.Configuration(host=fake_pod_logs.url)))
    fake_pod_logs.write(namespace, "web-a", "first run")

    def read(pod: str = "web-a", **options: Any) -> str:
        return api.read_namespaced_pod_log(pod, namespace, **options)

    assert refusal(read) == (400, "a container name must be specified for pod web-a, choose one of: "
                                  "[kanri istio-proxy] or one of the init containers: [fetch-predictor]")
    assert refusal(lambda: read(container="nope")) == (400, "container nope is not valid for pod web-a")
    assert refusal(lambda: read(container="kanri", previous=True)) == (
        400, 'previous terminated container "kanri" in pod "web-a" not found')
    assert refusal(lambda: read("web-b")) == (400, 'container "kanri" in pod "web-b" is waiting to start: '
                                                   'PodInitializing')
    assert refusal(lambda: read("web-c", container="kanri")) == (404, 'pods "web-c" not found')
    assert read(container="kanri") == "first run\n"
    fake_pod_logs.restart(namespace, "web-a")
    fake_pod_logs.write(namespace, "web-a", "second run")
    assert (read(container="kanri", previous=True), read(container="kanri")) == ("first run\n", "second run\n")
    fake_pod_logs.write(namespace, "web-b", "started")
    assert read("web-b") == "started\n"  # one container: the server picks it


def test_pod_logs_read_the_runtime_container_of_every_pod_beside_a_sidecar(fake_pod_logs: FakePodLogs,
                                                                          pods_in: Callable[..., str]) -> None:
    """With Istio's sidecar a pod has two containers: the runtime's lines, not the proxy's access log, of
    every pod of the service, those of a pod that starts later included."""
    namespace = pods_in("testapp-web-a")
    for pod in ("testapp-web-a", "testapp-web-b"):
        pods_in(pod)
        fake_pod_logs.write(namespace, pod, ENVOY, container="istio-proxy")
    source = pod_logs(fake_pod_logs, namespace)
    fake_pod_logs.write(namespace, "testapp-web-a", line_json("a1"))
    first = page(source.search(LogQuery(APP, service=WEB)))
    assert [(line.pod, line.message) for line in first.lines] == [("testapp-web-a", "a1")]
    pods_in("testapp-web-c")
    for pod in ("testapp-web-a", "testapp-web-b", "testapp-web-c"):
        fake_pod_logs.write(namespace, pod, line_json(f"{pod} again", pod))
    later = page(source.poll(LogQuery(APP, service=WEB), first.cursor))
    assert sorted(line.message for line in later.lines) == [
        "testapp-web-a again", "testapp-web-b again", "testapp-web-c again"]


def test_pod_logs_previous_reads_the_run_before_the_last_restart(fake_pod_logs: FakePodLogs,
                                                                 pods_in: Callable[..., str]) -> None:
    namespace = pods_in("testapp-web-a", "testapp-web-b")
    fake_pod_logs.write(namespace, "testapp-web-a", line_json("loading"), "Traceback: CUDA out of memory")
    fake_pod_logs.restart(namespace, "testapp-web-a")
    fake_pod_logs.write(namespace, "testapp-web-a", line_json("loading again"))
    fake_pod_logs.write(namespace, "testapp-web-b", line_json("fine"))
    previous = page(pod_logs(fake_pod_logs, namespace, previous=True).search(LogQuery(APP)))
    assert [line.message for line in previous.lines] == ["loading", "Traceback: CUDA out of memory"]
    running = page(pod_logs(fake_pod_logs, namespace).search(LogQuery(APP))).lines
    assert sorted(line.message for line in running) == ["fine", "loading again"]


def test_pod_logs_say_why_when_every_pod_is_refused(fake_pod_logs: FakePodLogs,
                                                    pods_in: Callable[..., str]) -> None:
    """A container that has not started, or has no previous run, is the API's 400: in the API's words."""
    namespace = pods_in("testapp-web-a", waiting={"kanri": "PodInitializing"})
    answer = pod_logs(fake_pod_logs, namespace).search(LogQuery(APP))
    assert isinstance(answer, TelemetryUnavailable)
    assert answer.reason == (f"Kubernetes pod logs in {namespace}: container \"kanri\" in pod \"testapp-web-a\" "
                             "is waiting to start: PodInitializing")
    pods_in("testapp-web-b")
    fake_pod_logs.write(namespace, "testapp-web-b", line_json("up", "testapp-web-b"))
    assert [line.pod for line in page(pod_logs(fake_pod_logs, namespace).search(LogQuery(APP))).lines] == [
        "testapp-web-b"]  # the pod still waiting is left out
    previous = pod_logs(fake_pod_logs, namespace, previous=True).search(LogQuery(APP))
    assert isinstance(previous, TelemetryUnavailable)
    assert 'previous terminated container "kanri" in pod "testapp-web-b" not found' in previous.reason


def test_pod_logs_read_the_init_container_that_fetches_the_predictor(fake_pod_logs: FakePodLogs,
                                                                     pods_in: Callable[..., str]) -> None:
    namespace = pods_in("testapp-web-a", waiting={"kanri": "PodInitializing"})
    fake_pod_logs.write(namespace, "testapp-web-a", "Cloning into '/srv/fetched-predictor'...", GIT_FAILED,
                        container="fetch-predictor")
    fake_pod_logs.restart(namespace, "testapp-web-a", "fetch-predictor")
    fetch = page(pod_logs(fake_pod_logs, namespace, container="fetch-predictor", previous=True)
                 .search(LogQuery(APP)))
    assert [(line.level, line.message) for line in fetch.lines] == [
        ("raw", "Cloning into '/srv/fetched-predictor'..."), ("raw", GIT_FAILED)]


def test_every_source_is_a_log_source(tmp_path: Path, fake_elasticsearch: FakeElasticsearch,
                                      fake_pod_logs: FakePodLogs) -> None:
    assert isinstance(LocalFileLogs(tmp_path), LogSource)
    assert isinstance(ElasticsearchLogs(Elasticsearch(fake_elasticsearch.url)), LogSource)
    assert isinstance(pod_logs_store(fake_pod_logs).source, LogSource)


def test_kanri_logs_prints_the_lines_elasticsearch_holds(fake_elasticsearch: FakeElasticsearch, shipper: Shipper,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = elasticsearch_store(fake_elasticsearch)
    shipped = set(ship(store, shipper, at_least=10))
    kanri = kanri_cli(tmp_path, monkeypatch, KANRI_ELASTICSEARCH_URL=fake_elasticsearch.url,
                      KANRI_ELASTICSEARCH_INDEX=store.source.index)
    result = kanri("logs", APP, "--pod", "testapp-batch-a", "--limit", "5", "--json")
    assert result.exit_code == 0, result.output
    printed = [json.loads(text) for text in result.stdout.splitlines()]
    assert len(printed) == 5 and {line["pod"] for line in printed} == {"testapp-batch-a"}
    assert {record_key(line) for line in printed} <= shipped
    plain = kanri("logs", APP, "--limit", "3")
    assert plain.exit_code == 0 and len(plain.stdout.splitlines()) == 3 and APP in plain.stdout


def test_kanri_logs_follow_prints_each_new_line_once_until_ctrl_c(fake_elasticsearch: FakeElasticsearch,
                                                                 shipper: Shipper, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The real command in its own process, as in a terminal: lines shipped while it follows appear, once."""
    store = elasticsearch_store(fake_elasticsearch)
    kanri_cli(tmp_path, monkeypatch, KANRI_ELASTICSEARCH_URL=fake_elasticsearch.url,
              KANRI_ELASTICSEARCH_INDEX=store.source.index)
    follower = subprocess.Popen([sys.executable, "-c", "from kanri.console.cli import main; main()", "logs", APP,
                                 "--follow", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed: queue.Queue[tuple] = queue.Queue()

    def read() -> None:
        for text in follower.stdout:
            printed.put(record_key(json.loads(text)))

    reader = threading.Thread(target=read)
    reader.start()
    seen: list[tuple] = []
    try:
        for _ in range(2):  # lines there before it asked, then lines that came while it followed
            shipped = set(ship(store, shipper, at_least=2))
            while not shipped <= set(seen):
                seen.append(printed.get(timeout=20))
        follower.send_signal(signal.SIGINT)
        assert follower.wait(10) == 0, follower.stderr.read()
    finally:
        follower.kill()
        reader.join(10)
    while not printed.empty():
        seen.append(printed.get())
    assert len(seen) == len(set(seen)), "a line printed twice"


def test_kanri_logs_refuses_an_unknown_application_or_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo is an error, as in `kanri top`, not an empty listing that looks like a quiet service."""
    kanri = kanri_cli(tmp_path, monkeypatch)
    unknown_app = kanri("logs", "digitz")
    assert unknown_app.exit_code == 1 and unknown_app.stderr.startswith("error: no application 'digitz'")
    unknown_service = kanri("logs", APP, "web")
    assert unknown_service.exit_code == 1 and "has no service 'web'" in unknown_service.stderr
    quiet = kanri("logs", APP)
    assert (quiet.exit_code, quiet.stdout) == (0, "")
