"""The Open Inference Protocol (KServe v2) over the data plane, whatever the transport.

The messages are the protocol's protobuf ones: the gRPC transport
(serving.oip) receives them as they are, the HTTP transport (serving.rest)
decodes its JSON into them, so both answer with this one code.

The model's name is the application's name and its version the live model
version. Request parameters become the predictor's option dict; a string
parameter "option" holding JSON gives an option of any depth. Answers carry
the predictor's option dict back the same way (see _set_parameters).
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from . import __version__
from ._pb import open_inference_pb2 as oip
from .dataplane import DataPlane
from .errors import InvalidInput, ModelNotFound, PredictorFailed
from .models import LoadedModel
from .predictor import INT64_MAX, INT64_MIN, PredictResult, type_name
from .tensors import DATATYPE, decode_input, encode_output, input_shape

OUTPUTS = ("label", "scores")


class Inference:
    def __init__(self, dataplane: DataPlane) -> None:
        self.dp = dataplane

    def check_model(self, name: str, version: str) -> None:
        """ModelNotFound unless name is this server's model and version (when given) the live one."""
        self._check_name(name)
        live = self.dp.holder.current.version
        if version and version != live:
            raise ModelNotFound(f"version '{version}' of '{name}' is not loaded; the live version is '{live}'")

    def _check_name(self, name: str) -> None:
        app = self.dp.identity.app
        if name != app:
            raise ModelNotFound(f"model '{name}' is not served here; this server serves '{app}'")

    def server_ready(self) -> bool:
        return self.dp.ready

    def model_ready(self, name: str, version: str) -> bool:
        """ModelNotFound for another model or version; False while no model is ready or the server drains."""
        self._check_name(name)
        if not self.dp.ready:
            return False
        self.check_model(name, version)
        return True

    def server_metadata(self) -> oip.ServerMetadataResponse:
        return oip.ServerMetadataResponse(name="kanri", version=__version__, extensions=[])

    def model_metadata(self, name: str, version: str) -> oip.ModelMetadataResponse:
        self.check_model(name, version)
        tensor = oip.ModelMetadataResponse.TensorMetadata
        in_name, out_name = type_name(self.dp.input_type), type_name(self.dp.output_type)
        return oip.ModelMetadataResponse(
            name=self.dp.identity.app, versions=[self.dp.holder.current.version], platform="kanri",
            inputs=[tensor(name="input", datatype=DATATYPE[in_name], shape=input_shape(self.dp.input_type))],
            outputs=[tensor(name="label", datatype=DATATYPE[out_name], shape=input_shape(self.dp.output_type)),
                     tensor(name="scores", datatype="FP64", shape=[-1, -1])])

    async def infer(self, request: oip.ModelInferRequest) -> oip.ModelInferResponse:
        """Decode, predict, encode: the phases serving.tracing wraps in spans."""
        values, option, requested = self.decode(request)
        answers = await self.predict(values, option)
        return self.encode(request, requested, answers)

    def decode(self, request: oip.ModelInferRequest) -> tuple[list[Any], dict[str, Any], list[str]]:
        """The inputs, the option and the names of the outputs asked for."""
        self.check_model(request.model_name, request.model_version)
        if len(request.inputs) != 1:
            raise InvalidInput(f"this model takes exactly one input tensor, got {len(request.inputs)}")
        if request.raw_input_contents and len(request.raw_input_contents) != len(request.inputs):
            raise InvalidInput("raw_input_contents must hold one entry per input tensor")
        raw = request.raw_input_contents[0] if request.raw_input_contents else None
        values = decode_input(request.inputs[0], raw, self.dp.input_type)
        if not values:
            raise InvalidInput("the input tensor holds no inputs")
        requested = [o.name for o in request.outputs] or list(OUTPUTS)
        unknown = set(requested) - set(OUTPUTS)
        if unknown:
            raise InvalidInput(f"unknown output(s) {sorted(unknown)}; this model answers {list(OUTPUTS)}")
        return values, _option(request.parameters), requested

    async def predict(self, values: list[Any], option: dict[str, Any]) -> list[tuple[PredictResult, LoadedModel]]:
        if len(values) == 1:  # the common case, without gather's task
            return [await self.dp.predict(values[0], option)]
        return await asyncio.gather(*(self.dp.predict(v, option) for v in values))

    def encode(self, request: oip.ModelInferRequest, requested: list[str],
               answers: list[tuple[PredictResult, LoadedModel]]) -> oip.ModelInferResponse:
        version = answers[-1][1].version
        response = oip.ModelInferResponse(model_name=request.model_name, model_version=version, id=request.id)
        columns = {"label": ([r.label for r, _ in answers], type_name(self.dp.output_type)),
                   "scores": ([r.score for r, _ in answers], "list[float]")}
        for name in requested:
            tensor, raw_out = encode_output(name, *columns[name])
            response.outputs.append(tensor)
            response.raw_output_contents.append(raw_out)
        _set_parameters(response.parameters, [r.option for r, _ in answers])
        return response


def _option(parameters: Any) -> dict[str, Any]:
    option: dict[str, Any] = {}
    for key, param in parameters.items():
        kind = param.WhichOneof("parameter_choice")
        if kind is not None:
            option[key] = getattr(param, kind)
    if isinstance(option.get("option"), str):
        try:
            nested = json.loads(option.pop("option"), parse_constant=not_json, parse_float=_finite)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, too-long ints, too-deep nesting
            raise InvalidInput(f"parameter 'option' must be a JSON object: {exc}") from None
        if not isinstance(nested, dict):
            raise InvalidInput("parameter 'option' must be a JSON object")
        option.update(nested)
    return option


def not_json(constant: str) -> Any:
    """NaN and Infinity are Python's JSON, not JSON: an option holding them could not travel back."""
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    """A JSON number as a float; one beyond the float range (1e999) would come back as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of the range of a double")
    return value


def _set_parameters(parameters: Any, options: list[dict[str, Any] | None]) -> None:
    """The predictor's option dict as answer parameters, mirroring _option: bool, int, float
    and str entries as typed parameters, anything deeper as JSON in "option". When the inputs
    of one request got different options, "options" holds them all, in input order, as a JSON list."""
    first = options[0]
    if any(option != first for option in options[1:]):
        parameters["options"].string_param = _json([option or {} for option in options])
        return
    nested = {}
    for key, value in (first or {}).items():
        if key == "option":  # a str here would be read back as JSON
            nested[key] = value
        elif isinstance(value, bool):
            parameters[key].bool_param = value
        elif isinstance(value, int) and INT64_MIN <= value <= INT64_MAX:
            parameters[key].int64_param = value
        elif isinstance(value, float):
            parameters[key].double_param = value
        elif isinstance(value, str):
            parameters[key].string_param = value
        else:
            nested[key] = value
    if nested:
        parameters["option"].string_param = _json(nested)


def _json(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PredictorFailed(f"the predictor's option must be JSON-like to travel as parameters: {exc}") from None
