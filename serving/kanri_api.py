"""kanri.serving.v1: the typed prediction API and the admin API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc

from ._pb import serving_pb2 as pb
from ._pb import serving_pb2_grpc as pb_grpc
from .codec import from_value, label_key, struct_to_dict, to_value
from .errors import InvalidInput, ModelLoadError, ServingError, Unauthenticated
from .evaluation import score
from .models import ModelSpec, ModelStore
from .predictor import PredictResult
from .rpc import Context, Runtime, authorization, failure, grpc_span, grpc_status, refuse_undecodable, rpc

STREAM_WINDOW = 64  # predictions of one stream in flight at once; answers keep request order
EVALUATE_CHUNK = 256


class PredictionService(pb_grpc.PredictionServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.predictions = runtime.predictions

    @rpc("Predict", prediction=True)
    async def Predict(self, request: pb.PredictRequest, context: Context) -> pb.PredictResponse:
        return await self.predictions.predict(request)

    async def PredictStream(self, request_iterator: AsyncIterator[pb.PredictRequest],
                            context: Context) -> AsyncIterator[pb.PredictResponse]:
        """Predictions run concurrently (so they batch) and answer in request order;
        a failed one ends the stream with its status."""
        pending: asyncio.Queue[asyncio.Task[pb.PredictResponse] | None] = asyncio.Queue(maxsize=STREAM_WINDOW)

        async def tracked(request: pb.PredictRequest) -> pb.PredictResponse:
            started = time.perf_counter()
            try:
                response = await self.predictions.predict(request)
            except Exception as exc:
                code, message = failure(exc)
                self.runtime.record("PredictStream", started, code, self.runtime.live_version(),
                                    request.request_id, message)
                raise
            self.runtime.record("PredictStream", started, grpc.StatusCode.OK, response.model_version,
                                request.request_id)
            return response

        async def refused(exc: Exception) -> pb.PredictResponse:
            raise exc

        async def read() -> None:
            try:
                async for request in refuse_undecodable(request_iterator):
                    await pending.put(asyncio.ensure_future(tracked(request)))
            except InvalidInput as exc:  # ends the stream, in order, after the answers before it
                await pending.put(asyncio.ensure_future(refused(exc)))
            await pending.put(None)

        try:
            self.runtime.admit(authorization(context))
        except Unauthenticated as exc:
            self.runtime.record("PredictStream", time.perf_counter(), exc.code, self.runtime.live_version(), "",
                                exc.message)
            await context.abort(exc.code, exc.message)
        tracing = self.runtime.tracing
        # Started before the reader, so the predictions' tasks inherit the stream's span.
        call_span = grpc_span(self.runtime, "PredictStream", context)
        code, error = grpc.StatusCode.OK, ""
        reader = asyncio.ensure_future(read())
        self.runtime.metrics.in_flight.inc()
        try:
            while (task := await pending.get()) is not None:
                try:
                    yield await task
                except Exception as exc:
                    code, error = failure(exc)
                    await context.abort(code, error)
        except (asyncio.CancelledError, GeneratorExit):  # GeneratorExit: grpc closed the stream, the caller gone
            code = grpc.StatusCode.CANCELLED
            raise
        finally:
            self.runtime.metrics.in_flight.dec()
            reader.cancel()
            while not pending.empty():
                if (task := pending.get_nowait()) is not None:
                    task.cancel()
            if call_span is not None:
                tracing.end_call(call_span, code, self.runtime.live_version(), error, grpc_status(code))  # type: ignore[union-attr]

    @rpc("GetServiceInfo")
    async def GetServiceInfo(self, request: pb.GetServiceInfoRequest,
                             context: Context) -> pb.ServiceInfo:
        return self.predictions.service_info()


class AdminService(pb_grpc.AdminServiceServicer):
    def __init__(self, runtime: Runtime, store: ModelStore) -> None:
        self.runtime = runtime
        self.dp = runtime.dataplane
        self.store = store

    async def _switch(self, spec: ModelSpec) -> pb.SwitchModelResponse:
        try:
            new, old = await self.dp.holder.switch(spec)
        except ServingError:
            self.runtime.metrics.model_load_failed()
            raise
        except Exception as exc:
            self.runtime.metrics.model_load_failed()
            raise ModelLoadError(f"could not load {spec.uri}: {type(exc).__name__}: {exc}") from exc
        return pb.SwitchModelResponse(info=self.runtime.predictions.service_info(),
                                      previous_model_version=old.version if old else "",
                                      load_seconds=new.load_seconds)

    @rpc("SwitchModel", admin=True)
    async def SwitchModel(self, request: pb.SwitchModelRequest,
                          context: Context) -> pb.SwitchModelResponse:
        if not request.model_uri:
            raise InvalidInput("model_uri is required")
        return await self._switch(ModelSpec(request.model_uri, request.sha256, request.model_version))

    @rpc("UploadModel", admin=True)
    async def UploadModel(self, request_iterator: AsyncIterator[pb.UploadModelRequest],
                          context: Context) -> pb.UploadModelResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidInput("the first UploadModel message must be the header (filename, sha256)")
        header = first.header

        async def chunks() -> AsyncIterator[bytes]:
            async for message in request_iterator:
                if message.WhichOneof("part") != "chunk":
                    raise InvalidInput("only the first UploadModel message may be a header")
                yield message.chunk

        stored = await self.store.put_stream(chunks(), header.filename or "model.bin", header.sha256)
        response = pb.UploadModelResponse(model_uri=stored.uri, sha256=stored.sha256, size=stored.size)
        if header.activate:
            response.switched.CopyFrom(await self._switch(ModelSpec(stored.uri, stored.sha256, header.model_version)))
        return response

    @rpc("EvaluateModel", admin=True)
    async def EvaluateModel(self, request_iterator: AsyncIterator[pb.EvaluateModelRequest],
                            context: Context) -> pb.EvaluateModelResponse:
        options = pb.EvaluateOptions()
        examples: list[tuple[Any, Any, pb.LabelledExample]] = []
        async for message in request_iterator:
            if message.WhichOneof("part") == "options":
                options = message.options
                continue
            example = message.example
            n = len(examples)
            examples.append((from_value(example.input, self.dp.input_type, f"example {n} input"),
                             from_value(example.label, self.dp.output_type, f"example {n} label"), example))
        if not examples:
            raise InvalidInput("EvaluateModel received no labelled examples")
        option = struct_to_dict(options.option) if options.HasField("option") else {}
        model = self.dp.holder.current
        results: list[PredictResult] = []
        for start in range(0, len(examples), EVALUATE_CHUNK):
            chunk = examples[start:start + EVALUATE_CHUNK]
            answers = await asyncio.gather(*(self.dp.predict(value, option) for value, _, _ in chunk))
            results.extend(result for result, _ in answers)
        pairs = zip(examples, results, strict=True)
        report = score([(label_key(label), label_key(r.label)) for (_, label, _), r in pairs])
        response = pb.EvaluateModelResponse(
            count=report.count, accuracy=report.accuracy, precision=report.precision, recall=report.recall,
            f1=report.f1, labels=report.labels, model_version=model.version,
            confusion_matrix=[cell for row in report.confusion for cell in row],
            per_label=[pb.LabelMetrics(label=s.label, support=s.support, precision=s.precision,
                                       recall=s.recall, f1=s.f1) for s in report.per_label])
        if options.return_details:
            for (_, label, example), r in zip(examples, results, strict=True):
                response.details.append(pb.ExampleResult(
                    input=example.input, label=example.label, output=to_value(r.label, self.dp.output_type),
                    correct=label_key(label) == label_key(r.label), scores=cast("list[float]", r.score)))
        return response
