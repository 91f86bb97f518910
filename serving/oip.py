"""The Open Inference Protocol (KServe v2) service over the same data plane.

The model's name is the application's name and its version the live model
version. Request parameters become the predictor's option dict; a string
parameter "option" holding JSON gives an option of any depth. Answers carry
the predictor's option dict back the same way (see _set_parameters).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc

from . import __version__
from ._pb import open_inference_pb2 as oip
from ._pb import open_inference_pb2_grpc as oip_grpc
from .errors import InvalidInput, ModelNotFound, PredictorFailed
from .models import LoadedModel
from .predictor import INT64_MAX, INT64_MIN, PredictResult, type_name
from .rpc import Runtime, rpc
from .tensors import DATATYPE, decode_input, encode_output, input_shape

OUTPUTS = ("label", "scores")


class InferenceService(oip_grpc.GRPCInferenceServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.dp = runtime.dataplane

    def _check_model(self, name: str, version: str) -> None:
        app = self.dp.identity.app
        if name != app:
            raise ModelNotFound(f"model '{name}' is not served here; this server serves '{app}'")
        live = self.dp.holder.current.version
        if version and version != live:
            raise ModelNotFound(f"version '{version}' of '{app}' is not loaded; the live version is '{live}'")

    @rpc("ServerLive")
    async def ServerLive(self, request: oip.ServerLiveRequest,
                         context: grpc.aio.ServicerContext) -> oip.ServerLiveResponse:
        return oip.ServerLiveResponse(live=True)

    @rpc("ServerReady")
    async def ServerReady(self, request: oip.ServerReadyRequest,
                          context: grpc.aio.ServicerContext) -> oip.ServerReadyResponse:
        return oip.ServerReadyResponse(ready=self.dp.ready)

    @rpc("ModelReady")
    async def ModelReady(self, request: oip.ModelReadyRequest,
                         context: grpc.aio.ServicerContext) -> oip.ModelReadyResponse:
        if not self.dp.ready:
            return oip.ModelReadyResponse(ready=False)
        try:
            self._check_model(request.name, request.version)
        except ModelNotFound:
            return oip.ModelReadyResponse(ready=False)
        return oip.ModelReadyResponse(ready=True)

    @rpc("ServerMetadata")
    async def ServerMetadata(self, request: oip.ServerMetadataRequest,
                             context: grpc.aio.ServicerContext) -> oip.ServerMetadataResponse:
        return oip.ServerMetadataResponse(name="kanri", version=__version__, extensions=[])

    @rpc("ModelMetadata")
    async def ModelMetadata(self, request: oip.ModelMetadataRequest,
                            context: grpc.aio.ServicerContext) -> oip.ModelMetadataResponse:
        self._check_model(request.name, request.version)
        tensor = oip.ModelMetadataResponse.TensorMetadata
        in_name, out_name = type_name(self.dp.input_type), type_name(self.dp.output_type)
        return oip.ModelMetadataResponse(
            name=self.dp.identity.app, versions=[self.dp.holder.current.version], platform="kanri",
            inputs=[tensor(name="input", datatype=DATATYPE[in_name], shape=input_shape(self.dp.input_type))],
            outputs=[tensor(name="label", datatype=DATATYPE[out_name], shape=input_shape(self.dp.output_type)),
                     tensor(name="scores", datatype="FP64", shape=[-1, -1])])

    @rpc("ModelInfer")
    async def ModelInfer(self, request: oip.ModelInferRequest,
                         context: grpc.aio.ServicerContext) -> oip.ModelInferResponse:
        return await self._infer(request)

    async def _infer(self, request: oip.ModelInferRequest) -> oip.ModelInferResponse:
        """Decode, predict, encode: the phases serving.tracing wraps in spans."""
        values, option, requested = self._decode(request)
        answers = await self._predict(values, option)
        return self._encode(request, requested, answers)

    def _decode(self, request: oip.ModelInferRequest) -> tuple[list[Any], dict[str, Any], list[str]]:
        """The inputs, the option and the names of the outputs asked for."""
        self._check_model(request.model_name, request.model_version)
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

    async def _predict(self, values: list[Any], option: dict[str, Any]) -> list[tuple[PredictResult, LoadedModel]]:
        return await asyncio.gather(*(self.dp.predict(v, option) for v in values))

    def _encode(self, request: oip.ModelInferRequest, requested: list[str],
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
            nested = json.loads(option.pop("option"), parse_constant=_not_json)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, too-long ints, too-deep nesting
            raise InvalidInput(f"parameter 'option' must be a JSON object: {exc}") from None
        if not isinstance(nested, dict):
            raise InvalidInput("parameter 'option' must be a JSON object")
        option.update(nested)
    return option


def _not_json(constant: str) -> Any:
    """NaN and Infinity are Python's JSON, not JSON: an option holding them could not travel back."""
    raise ValueError(f"{constant} is not a JSON number")


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
