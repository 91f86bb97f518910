"""kanri's Predict over the data plane, whatever the transport.

The messages are kanri.serving.v1's protobuf ones: the gRPC transport
(serving.kanri_api) receives them as they are, the HTTP transport
(serving.rest) decodes its JSON into them, so both answer with this one code.
"""

from __future__ import annotations

import time
from typing import Any, cast

from . import __version__
from ._pb import serving_pb2 as pb
from .codec import dict_to_struct, from_value, struct_to_dict, to_value
from .dataplane import DataPlane
from .models import LoadedModel
from .predictor import PredictResult, type_name


class Predictions:
    def __init__(self, dataplane: DataPlane) -> None:
        self.dp = dataplane

    async def predict(self, request: pb.PredictRequest) -> pb.PredictResponse:
        """Decode, predict, encode: the phases serving.tracing wraps in spans."""
        value, option = self.decode(request)
        result, model = await self.dp.predict(value, option)
        return self.answer(result, model, request.request_id)

    def decode(self, request: pb.PredictRequest) -> tuple[Any, dict[str, Any]]:
        value = from_value(request.input, self.dp.input_type)
        return value, struct_to_dict(request.option) if request.HasField("option") else {}

    def answer(self, result: PredictResult, model: LoadedModel, request_id: str) -> pb.PredictResponse:
        scores = cast("list[float]", result.score)  # check_result made it a list
        return pb.PredictResponse(output=to_value(result.label, self.dp.output_type), scores=scores,
                                  option=dict_to_struct(result.option), model_version=model.version,
                                  request_id=request_id)

    def service_info(self) -> pb.ServiceInfo:
        dp = self.dp
        info = pb.ServiceInfo(app=dp.identity.app, service=dp.identity.service,
                              service_level=dp.identity.service_level, input_type=type_name(dp.input_type),
                              output_type=type_name(dp.output_type), uptime_seconds=time.time() - dp.started_at,
                              runtime_version=__version__)
        if dp.holder.loaded:
            model = dp.holder.current
            info.model_version = model.version
            info.model_sha256 = model.sha256
            info.model_uri = model.uri
            info.model_format = model.format
            info.model_loaded_seconds_ago = time.time() - model.loaded_at
            info.batching = dp.uses_batching(model)
        return info
