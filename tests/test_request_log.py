"""Which calls get a request line: every failed and every slow one, successful ones sampled and capped."""

from __future__ import annotations

import logging

import pytest

from kanri.serving import logs
from kanri.serving.config import ServerSettings
from kanri.serving.logs import RequestLog


class Clock:
    """time.monotonic as serving.logs sees it, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(logs.time, "monotonic", clock)
    return clock


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="kanri.request")
    return caplog


def ok(log: RequestLog, latency_s: float = 0.001, request_id: str = "") -> None:
    log.write("Predict", "OK", latency_s, request_id, "1")


def test_successful_calls_are_capped_per_second(clock: Clock, captured: pytest.LogCaptureFixture) -> None:
    log = RequestLog(sample=1.0, per_second=5, slow_s=0.5)
    for i in range(50):
        ok(log, request_id=f"a{i}")
    assert [r.request_id for r in captured.records] == [f"a{i}" for i in range(5)]  # the first of the second
    clock.now += 1
    for i in range(50):
        ok(log, request_id=f"b{i}")
    assert len(captured.records) == 10 and captured.records[-1].request_id == "b4"


def test_failed_calls_are_always_logged_whatever_the_sampling(clock: Clock, captured: pytest.LogCaptureFixture) -> None:
    log = RequestLog(sample=0.0, per_second=1, slow_s=0.5)
    for i in range(200):
        ok(log)
        log.write("Predict", "INVALID_ARGUMENT", 0.001, f"bad-{i}", "1", "'bad' is not a word this model knows")
    log.write("Predict", "CANCELLED", 0.001, "gone", "1")
    assert [r.request_id for r in captured.records] == [*(f"bad-{i}" for i in range(200)), "gone"]
    assert {(r.levelname, r.code) for r in captured.records[:-1]} == {("WARNING", "INVALID_ARGUMENT")}
    assert captured.records[0].getMessage() == "'bad' is not a word this model knows"


def test_slow_calls_are_always_logged_as_warnings(clock: Clock, captured: pytest.LogCaptureFixture) -> None:
    log = RequestLog(sample=1.0, per_second=2, slow_s=0.5)
    for _ in range(10):
        ok(log)
    ok(log, latency_s=0.5, request_id="slow")
    ok(log, latency_s=0.499, request_id="not slow")
    assert len(captured.records) == 3
    slow = captured.records[2]
    assert (slow.request_id, slow.levelname, slow.latency_ms, slow.code) == ("slow", "WARNING", 500.0, "OK")
    assert slow.getMessage() == "Predict OK, slow: 500 ms"
    ok(RequestLog(sample=0.0, per_second=0, slow_s=0.0), latency_s=60.0)  # no slow rule: a successful call not sampled
    assert len(captured.records) == 3


def test_sample_zero_logs_no_successful_call_and_no_cap_logs_every_one(clock: Clock,
                                                                       captured: pytest.LogCaptureFixture) -> None:
    quiet = RequestLog(sample=0.0, per_second=0, slow_s=0.5)
    for _ in range(20):
        ok(quiet)
    assert captured.records == []
    every = RequestLog(sample=1.0, per_second=0, slow_s=0.5)
    for _ in range(1000):
        ok(every)
    assert len(captured.records) == 1000


def test_the_defaults_and_their_bounds() -> None:
    settings = ServerSettings(predictor="m:P")
    assert (settings.request_log_sample, settings.request_log_per_second, settings.request_log_slow_ms) == (
        1.0, 100, 500.0)
    with pytest.raises(ValueError, match="request log lines per second"):
        ServerSettings(predictor="m:P", request_log_per_second=-1)
    with pytest.raises(ValueError, match="lines per second and the slow call threshold"):
        RequestLog(sample=1.0, per_second=0, slow_s=-1)
