"""LogSource over Elasticsearch (cluster mode): the pods' lines as fluent-bit ships them, through the official client.

Each document is one runtime line with its fields at the top level (@timestamp,
level, app, service, service_level, pod, message) plus `tiebreaker`, a unique
keyword per line (fluent-bit's record_modifier `Uuid_Key`). Exact-match fields
are addressed with `keyword_suffix`: ".keyword" under Elasticsearch's dynamic
mapping, "" when an index template maps them as keywords.

Following sorts on (@timestamp, tiebreaker) and pages with search_after, 5,000
hits a search: catching up on a backlog costs a search per page, and a
search's own cost (sorting what matches) outweighs a larger page's. Lines
reach Elasticsearch out of order (each node's shipper flushes on its own, the
index refreshes every second), so the cursor's watermark trails the newest line
by `settle_seconds`: lines younger than that are delivered at once and
remembered by id, and read again (not delivered again) until they settle. A
line that arrives later than `settle_seconds` after it was written is missed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from kanri.console.telemetry.bounded import BoundedCalls
from kanri.console.telemetry.loglines import Origin, from_record
from kanri.console.telemetry.types import LogLine, LogPage, LogQuery, TelemetryUnavailable

QUERY_STRING_RESERVED = set('+-=&|><!(){}[]^"~*?:\\/')
NO_ORIGIN = Origin(app="", service="", pod="")


@dataclass(frozen=True)
class SearchCursor:
    """Everything up to `after` (sort values) is done; `delivered` ids lie beyond it and were delivered."""

    after: tuple[Any, ...]
    delivered: frozenset[str]


class ElasticsearchLogs:
    def __init__(self, client: Elasticsearch, *, index: str = "kanri-logs-*", tiebreaker: str = "log_id",
                 keyword_suffix: str = ".keyword", settle_seconds: float = 3.0, page_size: int = 5000,
                 max_lines: int = 10_000, timeout: float = 2.0) -> None:
        self.index = index
        self.keyword_suffix = keyword_suffix
        self.tiebreaker = tiebreaker + keyword_suffix
        self.settle_seconds = settle_seconds
        self.page_size = page_size
        self.max_lines = max_lines  # per poll; `more` asks for the rest at once
        self.timeout = timeout
        self._client = client.options(request_timeout=timeout, max_retries=0)
        nodes = ", ".join(node.base_url for node in client.transport.node_pool.all())
        self._calls = BoundedCalls(f"Elasticsearch at {nodes} ({index})", timeout)

    def search(self, query: LogQuery) -> LogPage | TelemetryUnavailable:
        return self._calls.run(lambda: self._search(query))

    def poll(self, query: LogQuery, cursor: object) -> LogPage | TelemetryUnavailable:
        if not isinstance(cursor, SearchCursor):
            return TelemetryUnavailable(f"not a cursor of ElasticsearchLogs: {cursor!r}")
        return self._calls.run(lambda: self._poll(query, cursor))

    def close(self) -> None:
        self._calls.close()

    def _search(self, query: LogQuery) -> LogPage:
        hits = self._newest(query)
        settled = self._settled_before()
        done = [h for h in hits if h["sort"][0] < settled]
        if done:
            after = tuple(done[-1]["sort"])
        elif hits:  # all younger than settle_seconds: older lines than these count as read
            after = tuple(hits[0]["sort"])
        else:
            after = (settled, "")
        return LogPage(tuple(_line(h) for h in hits),
                       SearchCursor(after, frozenset(h["_id"] for h in hits if tuple(h["sort"]) > after)))

    def _newest(self, query: LogQuery) -> list[dict[str, Any]]:
        """The newest `query.limit` hits, oldest first, in pages (a search answers at most 10,000 hits)."""
        hits: list[dict[str, Any]] = []
        after = None
        while len(hits) < query.limit:
            page = self._hits(query, "desc", min(self.page_size, query.limit - len(hits)), after)
            hits += page
            if len(page) < self.page_size:
                break
            after = tuple(page[-1]["sort"])
        return hits[::-1]

    def _poll(self, query: LogQuery, cursor: SearchCursor) -> LogPage:
        deadline = time.monotonic() + self.timeout * 0.8  # answer what was read rather than time out
        scanned: list[dict[str, Any]] = []
        after, fresh, more = cursor.after, 0, False
        while True:
            page = self._hits(query, "asc", self.page_size, after)
            scanned += page
            fresh += sum(1 for h in page if h["_id"] not in cursor.delivered)
            if len(page) < self.page_size:
                break
            after = tuple(page[-1]["sort"])
            if fresh >= self.max_lines or time.monotonic() > deadline:
                more = True
                break
        new = [h for h in scanned if h["_id"] not in cursor.delivered]
        settled = self._settled_before()
        done = [h for h in scanned if h["sort"][0] < settled]
        watermark = tuple(done[-1]["sort"]) if done else cursor.after
        scanned_ids = {h["_id"] for h in scanned}
        delivered = {h["_id"] for h in scanned if tuple(h["sort"]) > watermark}
        delivered |= cursor.delivered - scanned_ids  # beyond this scan's end, still to be re-read
        return LogPage(tuple(_line(h) for h in new), SearchCursor(watermark, frozenset(delivered)), more)

    def _settled_before(self) -> int:
        """Epoch milliseconds before which lines are taken to have all arrived."""
        return int((time.time() - self.settle_seconds) * 1000)

    def _hits(self, query: LogQuery, order: str, size: int, after: tuple[Any, ...] | None = None) -> list[dict]:
        answer = self._client.search(
            index=self.index, query=self._query(query), size=size, search_after=list(after) if after else None,
            sort=[{"@timestamp": {"order": order}}, {self.tiebreaker: {"order": order}}],
            ignore_unavailable=True, allow_no_indices=True)
        return answer["hits"]["hits"]

    def _query(self, query: LogQuery) -> dict[str, Any]:
        k = self.keyword_suffix
        filters: list[dict[str, Any]] = [{"term": {f"app{k}": query.app}}]
        for field, value in (("service", query.service), ("service_level", query.service_level),
                             ("pod", query.pod)):
            if value is not None:
                filters.append({"term": {f"{field}{k}": value}})
        if query.levels:
            filters.append({"terms": {f"level{k}": sorted(query.levels)}})
        if query.since or query.until:
            bounds = {"gte": query.since, "lte": query.until}
            filters.append({"range": {"@timestamp": {op: _iso(t) for op, t in bounds.items() if t}}})
        must = [{"query_string": {"query": _literal(query.text), "default_field": "message",
                                  "default_operator": "AND"}}] if query.text.strip() else []
        return {"bool": {"filter": filters, "must": must}}


def _line(hit: dict[str, Any]) -> LogLine:
    sort_time = datetime.fromtimestamp(hit["sort"][0] / 1000, UTC)
    return from_record(hit["_source"], NO_ORIGIN, sort_time)


def _iso(t: datetime) -> str:
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat()


def _literal(text: str) -> str:
    """Free text as words to match, not query syntax: `a/b` or `x:y` must not fail to parse."""
    return " ".join("".join("\\" + c if c in QUERY_STRING_RESERVED else c for c in word) for word in text.split())
