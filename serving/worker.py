"""Entry point of one worker process started by serving.workers."""

from __future__ import annotations

import asyncio
import json
import os

from . import logs
from .config import ServerSettings
from .parent_death import end_with_parent
from .server import serve


def main() -> None:
    end_with_parent(int(os.environ["KANRI_SUPERVISOR_PID"]))  # drains as on SIGTERM when the supervisor dies
    settings = ServerSettings(**json.loads(os.environ["KANRI_WORKER_SETTINGS"]))
    logs.configure(settings.app, settings.service_name, settings.service_level, settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
