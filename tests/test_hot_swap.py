"""Hot swap under load: no failed request, and every answer names a version live at that moment."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from pathlib import Path

import pytest

from kanri.serving.client import AsyncClient, Prediction
from tests.support.servers import PREDICTORS, start_serve

CLIENT_TASKS = 8
SWITCHES = 20


@pytest.mark.parametrize("batching", ["--batching", "--no-batching"])
async def test_twenty_switches_under_load_fail_no_request(tmp_path: Path, echo_models: dict[str, Path],
                                                          batching: str) -> None:
    server = start_serve(tmp_path, f"{PREDICTORS}:BatchEcho", str(echo_models["v1"]), "--model-version", "1",
                         "--request-log-sample", "0", batching)
    # (monotonic time a switch was asked, time it answered, the version it made live)
    switches: list[tuple[float, float, str]] = [(0.0, 0.0, "1")]
    answers: list[tuple[float, float, Prediction]] = []
    stop = asyncio.Event()
    try:
        async with AsyncClient(server.target, retries=0) as client:

            async def load(worker: int) -> None:
                n = 0
                while not stop.is_set():
                    sent = time.monotonic()
                    answer = await client.predict(f"w{worker}-{n}")
                    answers.append((sent, time.monotonic(), answer))
                    n += 1

            workers = [asyncio.create_task(load(i)) for i in range(CLIENT_TASKS)]
            await asyncio.sleep(0.2)
            for i in range(SWITCHES):
                version, model = ("2", echo_models["v2"]) if i % 2 == 0 else ("1", echo_models["v1"])
                asked = time.monotonic()
                await client.switch_model(str(model), model_version=version)
                switches.append((asked, time.monotonic(), version))
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.gather(*workers)  # any failed request raises here
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).read().decode()
    finally:
        server.stop()

    assert len(answers) > SWITCHES * CLIENT_TASKS
    prefix = {"1": "one", "2": "two"}
    # Version i became live between its switch's ask and answer, and stayed live at least
    # until the next switch was asked, at most until it answered.
    live = [(asked, nxt[1] if nxt else float("inf"), version)
            for (asked, _, version), nxt in zip(switches, [*switches[1:], None], strict=True)]
    for sent, received, answer in answers:
        possible = {version for start, end, version in live if start <= received and sent <= end}
        assert answer.model_version in possible, (answer, sent, received)
        # The answer really came from that model, not merely labelled with it.
        assert answer.label.startswith(prefix[answer.model_version] + ":")
    assert {a.model_version for _, _, a in answers} == {"1", "2"}
    batches = re.search(r"kanri_batch_size_count\{[^}]*\} (\S+)", metrics)
    batched = re.search(r"kanri_batch_size_sum\{[^}]*\} (\S+)", metrics)
    if batching == "--batching":  # 8 concurrent callers: some batches hold more than one request
        assert batches and batched and float(batched[1]) > float(batches[1])
    else:
        assert batches and float(batches[1]) == 0
