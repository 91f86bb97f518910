"""Keeps the workers of one port on the same model.

A SwitchModel reaches one worker only (the kernel picks a process per
connection). That worker publishes the model it switched to in a shared file;
the others follow it within a poll interval. A worker restarted later also
catches up from the file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from .errors import ServingError
from .models import LoadedModel, ModelHolder, ModelSpec

log = logging.getLogger("kanri.model_sync")


class SharedModelFile:
    def __init__(self, path: Path, holder: ModelHolder, interval_s: float = 0.5) -> None:
        self.path = path
        self.holder = holder
        self.interval_s = interval_s
        self._seen_mtime = 0.0

    def publish(self, model: LoadedModel) -> None:
        content = json.dumps({"uri": model.uri, "sha256": model.sha256, "version": model.version})
        if self.path.exists() and self.path.read_text() == content:
            return
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(content)
        tmp.replace(self.path)

    async def follow(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError:
                continue
            if mtime == self._seen_mtime:
                continue
            self._seen_mtime = mtime
            data = json.loads(self.path.read_text())
            spec = ModelSpec(data["uri"], data["sha256"], data["version"])
            if self.holder.loaded and (self.holder.current.sha256, self.holder.current.version) == (
                    spec.sha256, spec.version):
                continue
            try:
                await self.holder.switch(spec)
            except ServingError as exc:
                log.error("could not follow the switch to %s: %s", spec.uri, exc.message)
