"""A real Alertmanager (Debian's prometheus-alertmanager, installed when missing) and a loopback webhook that
keeps what it receives, for notification tests."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.prometheus import debian_binary, says_ready, stop_server, wait_until
from tests.support.servers import free_port


@dataclass
class Alertmanager:
    folder: Path
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, config: str) -> Alertmanager:
        folder = Path(tempfile.mkdtemp(prefix="kanri-alertmanager-"))
        (folder / "alertmanager.yml").write_text(config)
        port = free_port()
        log = (folder / "alertmanager.log").open("w")
        # --cluster.listen-address= turns gossip off: nothing listens beyond the loopback web port.
        process = subprocess.Popen(
            [debian_binary("prometheus-alertmanager", "prometheus-alertmanager"),
             f"--config.file={folder / 'alertmanager.yml'}", f"--storage.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT)
        server = cls(folder, port, process)
        wait_until(server._ready, 20, f"Alertmanager ready at {server.url} (log: {folder / 'alertmanager.log'})",
                   interval=0.05)
        return server

    def _ready(self) -> bool:
        return says_ready(self.url, self.process, self.folder / "alertmanager.log")

    def stop(self) -> None:
        stop_server(self.process, self.folder)


@dataclass
class Webhook:
    """An HTTP server on a loopback port that keeps every JSON body POSTed to it."""

    server: ThreadingHTTPServer
    received: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    @classmethod
    def start(cls) -> Webhook:
        received: list[Any] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return cls(server, received)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
