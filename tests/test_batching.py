"""Adaptive batching (serving.batching.Batcher) and the data plane's batch runner (dataplane._run_batch)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kanri.serving import batching
from kanri.serving.batching import Batcher
from kanri.serving.dataplane import _run_batch
from kanri.serving.errors import InvalidInput, PredictorFailed
from kanri.serving.models import LoadedModel
from kanri.serving.predictor import PredictInterface, PredictResult


def loaded(predictor: PredictInterface | None = None, version: str = "1") -> LoadedModel:
    return LoadedModel(predictor=predictor or PredictInterface(), version=version, sha256="0" * 64, uri="mem",
                       format="file", size=0, load_seconds=0.0)


class Recorder:
    """A BatchRunner that records its batches and answers "<version>:<value>", or an exception for "bad"."""

    def __init__(self) -> None:
        self.batches: list[tuple[LoadedModel, list[Any]]] = []

    def __call__(self, model: LoadedModel, values: list[Any], options: list[dict]) -> list:
        self.batches.append((model, list(values)))
        return [InvalidInput(f"{v} is bad") if v == "bad" else PredictResult(f"{model.version}:{v}", [1.0], o)
                for v, o in zip(values, options, strict=True)]


@pytest.fixture
async def make_batcher() -> AsyncIterator[Callable[..., Batcher]]:
    batchers: list[Batcher] = []

    def make(run: Any, max_size: int = 32, max_wait_s: float = 0.002, **kwargs: Any) -> Batcher:
        batcher = Batcher(run, max_size, max_wait_s, **kwargs)
        batcher.start()
        batchers.append(batcher)
        return batcher

    yield make
    for batcher in batchers:
        await batcher.stop()


def test_max_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(Recorder(), 0, 0.01)


async def test_concurrent_submits_are_grouped_up_to_max_size(make_batcher: Callable[..., Batcher]) -> None:
    runner, sizes = Recorder(), []
    batcher = make_batcher(runner, max_size=4, on_batch=sizes.append)
    model = loaded()
    results = await asyncio.gather(*(batcher.submit(model, f"v{i}", {"i": i}) for i in range(10)))
    assert [r.label for r in results] == [f"1:v{i}" for i in range(10)]
    assert [r.option for r in results] == [{"i": i} for i in range(10)]
    assert sizes == [len(values) for _, values in runner.batches]
    assert max(sizes) == 4 and sum(sizes) == 10 and len(sizes) == 3
    assert [v for _, values in runner.batches for v in values] == [f"v{i}" for i in range(10)]  # in order


async def test_max_size_one_never_batches(make_batcher: Callable[..., Batcher]) -> None:
    runner = Recorder()
    batcher = make_batcher(runner, max_size=1)
    await asyncio.gather(*(batcher.submit(loaded(), i, {}) for i in range(5)))
    assert [len(values) for _, values in runner.batches] == [1] * 5


async def test_a_lone_submit_runs_at_once(make_batcher: Callable[..., Batcher]) -> None:
    runner = Recorder()
    batcher = make_batcher(runner, max_size=32, max_wait_s=30.0)
    result = await asyncio.wait_for(batcher.submit(loaded(), "alone", {}), timeout=2.0)
    assert result.label == "1:alone"
    assert [values for _, values in runner.batches] == [["alone"]]


async def test_back_to_back_lone_batches_wait_now_and_then_so_batching_can_resume(
        make_batcher: Callable[..., Batcher], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "IDLE_GAP_S", 0.5)  # a batch that waits, waits for "joins"
    model, runner = loaded(), Recorder()
    batcher = make_batcher(runner, max_size=8, max_wait_s=30.0)
    for i in range(batching.LONE_BATCHES_TO_IDLE):
        await asyncio.wait_for(batcher.submit(model, i, {}), timeout=2.0)  # idle: each goes at once
    probe = asyncio.ensure_future(batcher.submit(model, "probe", {}))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(probe, batcher.submit(model, "joins", {})), timeout=2.0)
    assert [len(values) for _, values in runner.batches] == [1] * batching.LONE_BATCHES_TO_IDLE + [2]


async def test_different_models_never_share_a_batch(make_batcher: Callable[..., Batcher]) -> None:
    runner = Recorder()
    batcher = make_batcher(runner, max_size=32)
    old, new = loaded(version="old"), loaded(version="new")
    # Equal-looking but distinct objects are distinct models too.
    twin = loaded(version="old")
    order = [old, old, new, new, old, twin, twin]
    results = await asyncio.gather(*(batcher.submit(m, str(i), {}) for i, m in enumerate(order)))
    assert [r.label for r in results] == [f"{m.version}:{i}" for i, m in enumerate(order)]
    groups = [(model, values) for model, values in runner.batches]
    assert [(m.version, v) for m, v in groups] == [("old", ["0", "1"]), ("new", ["2", "3"]), ("old", ["4"]),
                                                   ("old", ["5", "6"])]
    assert groups[2][0] is old and groups[3][0] is twin


async def test_an_exception_outcome_fails_only_its_own_request(make_batcher: Callable[..., Batcher]) -> None:
    runner, model = Recorder(), loaded()
    batcher = make_batcher(runner)
    outcomes = await asyncio.gather(*(batcher.submit(model, v, {}) for v in ["a", "bad", "c"]),
                                    return_exceptions=True)
    assert len(runner.batches) == 1
    assert outcomes[0].label == "1:a" and outcomes[2].label == "1:c"
    assert isinstance(outcomes[1], InvalidInput) and outcomes[1].message == "bad is bad"


async def test_a_failing_runner_fails_its_batch_and_the_batcher_keeps_going(
        make_batcher: Callable[..., Batcher]) -> None:
    calls = []

    def run(model: LoadedModel, values: list[Any], options: list[dict]) -> list:
        calls.append(values)
        if "crash" in values:
            raise RuntimeError("runner bug")
        return [PredictResult(v, 1.0) for v in values]

    batcher, model = make_batcher(run), loaded()
    outcomes = await asyncio.wait_for(asyncio.gather(*(batcher.submit(model, v, {}) for v in ["x", "crash"]),
                                                     return_exceptions=True), timeout=2.0)
    assert calls == [["x", "crash"]]
    assert all(isinstance(o, RuntimeError) and str(o) == "runner bug" for o in outcomes)
    after = await asyncio.wait_for(batcher.submit(loaded(), "later", {}), timeout=2.0)
    assert after.label == "later"


async def test_a_runner_with_the_wrong_number_of_outcomes_does_not_hang(make_batcher: Callable[..., Batcher]) -> None:
    batcher = make_batcher(lambda model, values, options: [])
    with pytest.raises(PredictorFailed, match="returned 0 outcomes for 1 inputs"):
        await asyncio.wait_for(batcher.submit(loaded(), "x", {}), timeout=2.0)
    batcher._run_batch = Recorder()
    assert (await asyncio.wait_for(batcher.submit(loaded(), "y", {}), timeout=2.0)).label == "1:y"


async def test_a_failing_batch_observer_does_not_stop_batching(make_batcher: Callable[..., Batcher]) -> None:
    def observe(size: int) -> None:
        raise RuntimeError("metrics are down")

    batcher = make_batcher(Recorder(), on_batch=observe)
    assert (await asyncio.wait_for(batcher.submit(loaded(), "x", {}), timeout=2.0)).label == "1:x"


async def test_a_cancelled_request_is_skipped(make_batcher: Callable[..., Batcher]) -> None:
    runner = Recorder()
    batcher = make_batcher(runner)
    model = loaded()
    gone = asyncio.ensure_future(batcher.submit(model, "gone", {}))
    kept = asyncio.ensure_future(batcher.submit(model, "kept", {}))
    await asyncio.sleep(0)  # both enqueued
    gone.cancel()
    assert (await kept).label == "1:kept"
    assert [values for _, values in runner.batches] == [["kept"]]


async def test_stop_cancels_queued_requests() -> None:
    runner = Recorder()
    batcher = Batcher(runner, 8, 0.002)  # never started: requests stay queued
    waiting = [asyncio.ensure_future(batcher.submit(loaded(), i, {})) for i in range(3)]
    await asyncio.sleep(0)
    await batcher.stop()
    for task in waiting:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=2.0)
    assert runner.batches == []


async def test_stop_of_a_running_batcher_cancels_what_it_had_not_taken() -> None:
    runner = Recorder()
    batcher = Batcher(runner, 8, 0.002)
    batcher.start()
    task = asyncio.ensure_future(batcher.submit(loaded(), "late", {}))
    await asyncio.sleep(0)  # enqueued; the batcher has not run since
    await batcher.stop()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=2.0)
    assert runner.batches == []


# --- the data plane's runner: predict_batch, falling back to one by one -----------------------------


class Shouty(PredictInterface):
    """Upper-cases words. predict_batch fails as a whole when any input is "bad" or "boom";
    predict refuses "bad" (InvalidInput) and crashes on "boom"; "int" makes a wrong label type."""

    input_type = str
    output_type = str

    def __init__(self) -> None:
        self.batch_calls: list[list[str]] = []
        self.single_calls: list[str] = []

    def load_model(self, model_path: str) -> None:
        pass

    def predict(self, input: str, option: dict[str, Any]) -> PredictResult:
        self.single_calls.append(input)
        if input == "bad":
            raise InvalidInput("bad is not a word")
        if input == "boom":
            raise RuntimeError("kaboom")
        return PredictResult(42 if input == "int" else input.upper(), 1.0, option)

    def predict_batch(self, inputs: list[str], options: list[dict[str, Any]]) -> list[PredictResult]:
        self.batch_calls.append(list(inputs))
        if {"bad", "boom"} & set(inputs):
            raise ValueError("cannot do this batch")
        return [PredictResult(42 if i == "int" else i.upper(), [0.5], o) for i, o in zip(inputs, options, strict=True)]


def test_run_batch_uses_predict_batch() -> None:
    model = loaded(Shouty())
    outcomes = _run_batch(model, ["a", "b"], [{"n": 1}, {}])
    assert [o.label for o in outcomes] == ["A", "B"] and outcomes[0].option == {"n": 1}
    assert outcomes[0].score == [0.5]
    assert model.predictor.batch_calls == [["a", "b"]] and model.predictor.single_calls == []


def test_run_batch_falls_back_so_only_the_bad_input_fails() -> None:
    model = loaded(Shouty())
    outcomes = _run_batch(model, ["a", "bad", "c", "boom"], [{}] * 4)
    assert model.predictor.single_calls == ["a", "bad", "c", "boom"]
    assert outcomes[0].label == "A" and outcomes[2].label == "C"
    assert isinstance(outcomes[1], InvalidInput) and outcomes[1].message == "bad is not a word"
    assert isinstance(outcomes[3], PredictorFailed) and "RuntimeError: kaboom" in outcomes[3].message


def test_run_batch_falls_back_on_a_wrong_result() -> None:
    model = loaded(Shouty())
    outcomes = _run_batch(model, ["a", "int"], [{}, {}])
    assert outcomes[0].label == "A"
    assert isinstance(outcomes[1], PredictorFailed) and "must be str, got int" in outcomes[1].message


def test_run_batch_falls_back_on_a_wrong_number_of_results() -> None:
    class Short(Shouty):
        def predict_batch(self, inputs: list[str], options: list[dict[str, Any]]) -> list[PredictResult]:
            return []

    model = loaded(Short())
    assert [o.label for o in _run_batch(model, ["a", "b"], [{}, {}])] == ["A", "B"]
    assert model.predictor.single_calls == ["a", "b"]


def test_run_batch_of_one_uses_predict() -> None:
    model = loaded(Shouty())
    assert _run_batch(model, ["x"], [{}])[0].label == "X"
    assert model.predictor.batch_calls == [] and model.predictor.single_calls == ["x"]


async def test_batcher_with_the_data_plane_runner(make_batcher: Callable[..., Batcher]) -> None:
    batcher = make_batcher(_run_batch)
    model = loaded(Shouty())
    outcomes = await asyncio.gather(*(batcher.submit(model, v, {}) for v in ["a", "bad", "c"]),
                                    return_exceptions=True)
    assert outcomes[0].label == "A" and outcomes[2].label == "C" and isinstance(outcomes[1], InvalidInput)
    assert model.predictor.batch_calls == [["a", "bad", "c"]]
