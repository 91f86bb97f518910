"""The HTTP API fuzzed: never a 5xx, whatever comes in.

schemathesis sends valid and invalid requests of every route, made from the
server's own OpenAPI document, and checks the answers' statuses, content types
and schemas against it. Most of its inference requests do not get past their
tensors' shapes, so a Hypothesis test of our own sends tensors whose shapes
add up, of every datatype, with elements of any JSON kind, as JSON or binary
data. A few hundred requests in all.

The server runs the Ints predictor (list[int] -> list[int], sorted), which
fails on no input it accepts, so a 5xx would be the runtime's fault.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from kanri.serving.tensors import DTYPES
from tests.support.http_calls import HttpServe, start_http_serve
from tests.support.servers import PREDICTORS

EXAMPLES_PER_ROUTE = 25  # 12 routes: ~300 requests, some seconds


@pytest.fixture(scope="module")
def ints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServe]:
    folder = tmp_path_factory.mktemp("http-fuzz")
    (folder / "model.txt").write_text("")
    server = start_http_serve(folder, f"{PREDICTORS}:Ints", str(folder / "model.txt"), "--model-version", "1")
    yield server
    server.process.stop()


@pytest.fixture(scope="module")
def api(ints: HttpServe) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{ints.url}/openapi.json")
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], deterministic=True)
    return schema


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_input_makes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])


ELEMENTS = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.booleans(), st.text(max_size=4),
                     st.sampled_from(["\ud800", 2**63, -(2**63) - 1, 1e308, 255, 256, -1]))


@st.composite
def tensors(draw: st.DrawFn) -> tuple[dict[str, Any], bytes]:
    """An input tensor whose shape and element count agree, its data in JSON or as binary data after it."""
    datatype = draw(st.sampled_from([*DTYPES, "BYTES", "BF16", ""]))
    shape = draw(st.lists(st.integers(0, 4), min_size=1, max_size=3))
    count = math.prod(shape)
    tensor: dict[str, Any] = {"name": "input", "datatype": datatype, "shape": shape}
    if datatype in DTYPES and draw(st.booleans()):
        raw = draw(st.binary(min_size=count * np.dtype(DTYPES[datatype]).itemsize,
                             max_size=count * np.dtype(DTYPES[datatype]).itemsize))
        return {**tensor, "parameters": {"binary_data_size": len(raw)}}, raw
    return {**tensor, "data": draw(st.lists(ELEMENTS, min_size=count, max_size=count))}, b""


@given(tensor=tensors(), parameters=st.dictionaries(st.text(max_size=3), ELEMENTS | st.none(), max_size=2),
       binary_output=st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
def test_tensors_of_any_datatype_and_elements(ints: HttpServe, tensor: tuple[dict[str, Any], bytes],
                                              parameters: dict[str, Any], binary_output: bool) -> None:
    spec, raw = tensor
    head = json.dumps({"inputs": [spec], "parameters": parameters,
                       "outputs": [{"name": "label", "parameters": {"binary_data": binary_output}}]}).encode()
    answer = ints.post("/v2/models/testapp/infer", head + raw, {"Inference-Header-Content-Length": str(len(head))})
    assert answer.status in (200, 400), answer.body
    if answer.status == 400:
        assert answer.error


@given(data=st.recursive(ELEMENTS | st.none(), lambda inner: st.lists(inner, max_size=3), max_leaves=8))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
def test_predict_inputs_of_any_json(ints: HttpServe, data: Any) -> None:
    answer = ints.post("/kanri/v1/predict", json.dumps({"input": data}).encode())
    assert answer.status in (200, 400), answer.body


def test_the_server_lived_through_it(ints: HttpServe) -> None:
    assert ints.get("/v2/health/live").json() == {"live": True}
    assert ints.process.process.poll() is None
    assert "Traceback" not in ints.process.logs()
    assert not Path(ints.process.log_path).read_text().count('"level": "error"')
