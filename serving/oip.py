"""The Open Inference Protocol (KServe v2) over gRPC: each RPC is serving.inference's answer."""

from __future__ import annotations

from ._pb import open_inference_pb2 as oip
from ._pb import open_inference_pb2_grpc as oip_grpc
from .errors import ModelNotFound
from .rpc import Context, Runtime, rpc


class InferenceService(oip_grpc.GRPCInferenceServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.inference = runtime.inference

    @rpc("ServerLive")
    async def ServerLive(self, request: oip.ServerLiveRequest,
                         context: Context) -> oip.ServerLiveResponse:
        return oip.ServerLiveResponse(live=True)

    @rpc("ServerReady")
    async def ServerReady(self, request: oip.ServerReadyRequest,
                          context: Context) -> oip.ServerReadyResponse:
        return oip.ServerReadyResponse(ready=self.inference.server_ready())

    @rpc("ModelReady")
    async def ModelReady(self, request: oip.ModelReadyRequest,
                         context: Context) -> oip.ModelReadyResponse:
        try:
            return oip.ModelReadyResponse(ready=self.inference.model_ready(request.name, request.version))
        except ModelNotFound:  # the protocol's gRPC form answers "not ready" for a model it does not serve
            return oip.ModelReadyResponse(ready=False)

    @rpc("ServerMetadata")
    async def ServerMetadata(self, request: oip.ServerMetadataRequest,
                             context: Context) -> oip.ServerMetadataResponse:
        return self.inference.server_metadata()

    @rpc("ModelMetadata")
    async def ModelMetadata(self, request: oip.ModelMetadataRequest,
                            context: Context) -> oip.ModelMetadataResponse:
        return self.inference.model_metadata(request.name, request.version)

    @rpc("ModelInfer", prediction=True)
    async def ModelInfer(self, request: oip.ModelInferRequest,
                         context: Context) -> oip.ModelInferResponse:
        return await self.inference.infer(request)
