"""LogSource over the Kubernetes API (cluster mode without Elasticsearch): each pod's log, read through
the official client's read_namespaced_pod_log with kubelet timestamps.

A poll lists the application's pods by label and reads each one's recent
output (`since_seconds` from its last delivered line, with slack for clock
skew); the cursor keeps, per pod, the kubelet timestamp of the last line
delivered and how many lines carried exactly that timestamp, so re-read lines
are skipped and none is delivered twice. A pod first seen after the cursor was
made is read from the cursor's time.

One container of each pod is read, by name: the runtime's ("kanri") unless
told otherwise, because a pod with a sidecar (Istio's istio-proxy) has several
and the API server refuses to guess. `previous` reads the instance that ran
before the container's last restart instead: a crash loop's last words, which
the running instance's log no longer holds. A pod whose log the API refuses
(a container still waiting to start, no previous instance) is left out; when
every pod is refused, the API's own words say why.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from kubernetes import client as k8s

from kanri.console.telemetry.bounded import BoundedCalls
from kanri.console.telemetry.loglines import Origin, matches, parse_line
from kanri.console.telemetry.types import LogLine, LogPage, LogQuery, TelemetryUnavailable

CLOCK_SLACK_SECONDS = 5
RUNTIME_CONTAINER = "kanri"  # the container that runs `kanri serve` in every pod (cluster/kubernetes/objects.py)
REFUSALS_SHOWN = 3


@dataclass(frozen=True)
class PodLabels:
    """Pod label keys naming a replica's application, service and service level."""

    app: str = "kanri.io/app"
    service: str = "kanri.io/service"
    service_level: str = "kanri.io/service-level"


@dataclass(frozen=True)
class Position:
    nanos: int  # kubelet timestamp of the last line delivered, ns since the epoch
    count: int  # lines delivered that carry exactly that timestamp


@dataclass(frozen=True)
class PodCursor:
    started: float  # unix seconds
    pods: dict[str, Position]


Stamped = list[tuple[int, LogLine]]  # a pod's lines in log order, each with its kubelet timestamp (ns)


class KubernetesPodLogs:
    def __init__(self, api_client: k8s.ApiClient, namespace: str, *, labels: PodLabels | None = None,
                 container: str = RUNTIME_CONTAINER, previous: bool = False, scan_lines: int = 5000,
                 timeout: float = 2.0) -> None:
        self.namespace = namespace
        self.labels = labels or PodLabels()
        self.container = container
        self.previous = previous
        self.scan_lines = scan_lines
        self.timeout = timeout
        self._api = k8s.CoreV1Api(api_client)
        self._calls = BoundedCalls(f"Kubernetes pod logs in {namespace}", timeout)

    def search(self, query: LogQuery) -> LogPage | TelemetryUnavailable:
        return self._collect(query, None)

    def poll(self, query: LogQuery, cursor: object) -> LogPage | TelemetryUnavailable:
        if not isinstance(cursor, PodCursor):
            return TelemetryUnavailable(f"not a cursor of KubernetesPodLogs: {cursor!r}")
        return self._collect(query, cursor)

    def close(self) -> None:
        self._calls.close()

    def _collect(self, query: LogQuery, cursor: PodCursor | None) -> LogPage | TelemetryUnavailable:
        deadline = self._calls.deadline()
        started = time.time() if cursor is None else cursor.started
        pods = self._calls.run(partial(self._pods, query), deadline)
        if isinstance(pods, TelemetryUnavailable):
            return pods
        reads = self._calls.run_all({name: partial(self._read, name, origin, query, cursor, started)
                                     for name, origin in pods.items()}, deadline)
        positions: dict[str, Position] = {}
        lines: list[LogLine] = []
        refused: list[str] = []
        for name, read in reads.items():
            known = cursor.pods.get(name) if cursor else None
            if isinstance(read, TelemetryUnavailable):  # read again from the same place next time
                refused.append(read.reason.removeprefix(f"{self._calls.source}: "))
                if known:
                    positions[name] = known
                continue
            fresh = read if known is None else _after(read, known)
            position = _position(read) or known
            if position:
                positions[name] = position
            lines += [line for _, line in fresh if matches(line, query)]
        if refused and len(refused) == len(reads):
            return TelemetryUnavailable(f"{self._calls.source}: {_summary(refused)}")
        lines.sort(key=lambda line: line.timestamp)
        return LogPage(tuple(lines[-query.limit:] if cursor is None else lines), PodCursor(started, positions))

    def _pods(self, query: LogQuery) -> dict[str, Origin] | TelemetryUnavailable:
        n = self.labels
        wanted = {n.app: query.app, n.service: query.service, n.service_level: query.service_level}
        selector = ",".join(f"{key}={value}" for key, value in wanted.items() if value is not None)
        try:
            listed = self._api.list_namespaced_pod(self.namespace, label_selector=selector,
                                                   _request_timeout=self.timeout)
        except k8s.ApiException as exc:
            return TelemetryUnavailable(f"{self._calls.source}: cannot list pods: {_refusal(exc)}")
        origins = {}
        for pod in listed.items:
            labels = pod.metadata.labels or {}
            if query.pod is None or pod.metadata.name == query.pod:
                origins[pod.metadata.name] = Origin(labels.get(n.app, query.app), labels.get(n.service, ""),
                                                    pod.metadata.name, labels.get(n.service_level, ""))
        return origins

    def _read(self, name: str, origin: Origin, query: LogQuery, cursor: PodCursor | None,
              started: float) -> Stamped | TelemetryUnavailable:
        known = cursor.pods.get(name) if cursor else None
        since = None
        if cursor is not None:
            since_unix = known.nanos / 1e9 if known else started
            since = max(1, math.ceil(time.time() - since_unix) + CLOCK_SLACK_SECONDS)
        elif query.since is not None:
            since = max(1, math.ceil(time.time() - query.since.timestamp()) + CLOCK_SLACK_SECONDS)
        try:
            text = self._api.read_namespaced_pod_log(
                name, self.namespace, container=self.container, previous=self.previous, timestamps=True,
                since_seconds=since, tail_lines=self.scan_lines if cursor is None else None,
                _request_timeout=self.timeout)
        except k8s.ApiException as exc:
            return TelemetryUnavailable(_refusal(exc))
        stamped: Stamped = []
        for raw in (text or "").splitlines():
            stamp, _, rest = raw.partition(" ")
            nanos = _kubelet_nanos(stamp)
            stamped.append((nanos, parse_line(rest, origin, datetime.fromtimestamp(nanos / 1e9, UTC))))
        if cursor is not None and known is None:  # a pod new since the cursor: from the cursor's time on
            stamped = [(nanos, line) for nanos, line in stamped if nanos >= started * 1e9]
        return stamped


def _refusal(exc: k8s.ApiException) -> str:
    """The API server's own words ("container x is not valid for pod y"), else its status line."""
    try:
        message = json.loads(exc.body or "").get("message")
    except (ValueError, AttributeError):
        message = None
    return message or f"{exc.status} {exc.reason}"


def _summary(refusals: list[str]) -> str:
    """Each distinct refusal once, the first few of them: every pod of a service is often refused alike."""
    distinct = list(dict.fromkeys(refusals))
    more = len(distinct) - REFUSALS_SHOWN
    return "; ".join(distinct[:REFUSALS_SHOWN]) + (f"; and {more} more" if more > 0 else "")


def _after(stamped: Stamped, known: Position) -> Stamped:
    """The lines after the last one delivered."""
    fresh, at_known = [], 0
    for nanos, line in stamped:
        if nanos == known.nanos:
            at_known += 1
            if at_known <= known.count:
                continue
        if nanos >= known.nanos:
            fresh.append((nanos, line))
    return fresh


def _position(stamped: Stamped) -> Position | None:
    if not stamped:
        return None
    last = stamped[-1][0]
    return Position(last, sum(1 for nanos, _ in stamped if nanos == last))


def _kubelet_nanos(stamp: str) -> int:
    """RFC 3339 with up to nanoseconds, as the kubelet writes it ("2026-11-23T07:41:02.113456789Z")."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    return int(seconds) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])
