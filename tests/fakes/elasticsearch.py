"""The Elasticsearch fake: osmem-server (an in-memory OpenSearch-compatible server) behind a header proxy.

No Elasticsearch can run here. osmem-server answers the search API the
elasticsearch client uses (`_bulk`, `_search` with bool/term/range/query_string,
sort, search_after), but it refuses the client's versioned media type with 406,
and the client refuses answers without the `X-Elastic-Product: Elasticsearch`
header. The proxy in front of it rewrites both, and nothing else; production
code talks to it exactly as it would to Elasticsearch.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from osmem_server import resolve_binary

from tests.support.servers import free_port

VERSIONED_MEDIA_TYPE = re.compile(r"application/vnd\.elasticsearch\+(json|x-ndjson);\s*compatible-with=\d+")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
# Set by the proxy itself; upstream's copies would be sent twice.
OWN_HEADERS = {"server", "date", "x-elastic-product"}


def plain_media_type(value: str) -> str:
    return VERSIONED_MEDIA_TYPE.sub(lambda m: f"application/{m.group(1)}", value)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int]
    _local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        return connection

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: plain_media_type(v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            connection = self._connection()
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self._local.connection = None
            self.send_error(502, "osmem-server did not answer")
            return
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP | OWN_HEADERS:
                self.send_header(key, value)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class FakeElasticsearch:
    """osmem-server and the proxy in front of it; `url` is what the elasticsearch client dials."""

    process: subprocess.Popen
    proxy: ThreadingHTTPServer
    url: str

    @classmethod
    def start(cls, timeout: float = 15.0) -> FakeElasticsearch:
        upstream = ("127.0.0.1", free_port())
        process = subprocess.Popen([resolve_binary(), "-addr", f"{upstream[0]}:{upstream[1]}", "-no-stdin-watch",
                                    "-no-ja"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        handler = type("Handler", (_ProxyHandler,), {"upstream": upstream, "_local": threading.local()})
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        proxy.daemon_threads = True
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        fake = cls(process, proxy, f"http://127.0.0.1:{proxy.server_address[1]}")
        fake._wait_ready(upstream, timeout)
        return fake

    def _wait_ready(self, upstream: tuple[str, int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"osmem-server exited with {self.process.returncode}")
            try:
                connection = http.client.HTTPConnection(*upstream, timeout=1)
                connection.request("GET", "/")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"osmem-server not ready after {timeout}s")

    def stop(self) -> None:
        self.proxy.shutdown()
        self.proxy.server_close()
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
