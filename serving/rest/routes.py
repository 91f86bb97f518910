"""The HTTP routes over the protocols' shared code, and the one place errors become HTTP statuses.

A routed request is a serving.rpc.Call like a gRPC one: counted, timed and
logged under the gRPC method it mirrors with "HTTP " before it (method="HTTP
ModelInfer"), its code the gRPC code's name, so the console's error ratios
count both transports alike; with tracing on, its server span is named after
its verb and route and continues the caller's traceparent header. A path
that is not routed answers 404 (or 405 for another verb) and is not counted,
as gRPC does not count a method it does not serve.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

import grpc

from ..rpc import Call, Runtime, failure
from . import kanri_json, oip_json
from .messages import Request, Response, error_response, json_response

# google.rpc.Code's HTTP mapping (googleapis/google/rpc/code.proto).
HTTP_STATUS = {
    grpc.StatusCode.OK: 200, grpc.StatusCode.CANCELLED: 499, grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.DEADLINE_EXCEEDED: 504, grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409, grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400, grpc.StatusCode.ABORTED: 409, grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.INTERNAL: 500, grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
SPAN_STATUS = "http.response.status_code"


@dataclass(slots=True)
class Exchange:
    """A routed request, and what its answer tells the request log."""

    request: Request
    params: dict[str, str]
    model_version: str = ""
    request_id: str = ""

    @property
    def model(self) -> tuple[str, str]:
        return self.params["name"], self.params.get("version", "")


Handler = Callable[[Runtime, Exchange], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    verb: str
    template: str  # as in the OpenAPI document
    method: str  # the gRPC method it mirrors, or its own name
    handle: Handler
    summary: str
    prediction: bool = False  # checked by serving.auth when callers must authenticate
    pattern: re.Pattern[str] = field(init=False)
    call_name: str = field(init=False)  # its metrics' and request logs' method: "HTTP ModelInfer"

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(regex + "$"))
        object.__setattr__(self, "call_name", f"HTTP {self.method}")


async def live(runtime: Runtime, exchange: Exchange) -> Response:
    return json_response(200, {"live": True})


async def ready(runtime: Runtime, exchange: Exchange) -> Response:
    is_ready = runtime.inference.server_ready()
    return json_response(200 if is_ready else 503, {"ready": is_ready})


async def server_metadata(runtime: Runtime, exchange: Exchange) -> Response:
    return oip_json.server_metadata(runtime.inference.server_metadata())


async def model_metadata(runtime: Runtime, exchange: Exchange) -> Response:
    return oip_json.model_metadata(runtime.inference.model_metadata(*exchange.model))


async def model_ready(runtime: Runtime, exchange: Exchange) -> Response:
    is_ready = runtime.inference.model_ready(*exchange.model)
    return json_response(200 if is_ready else 503, {"name": exchange.model[0], "ready": is_ready})


async def infer(runtime: Runtime, exchange: Exchange) -> Response:
    runtime.inference.check_model(*exchange.model)  # another model is 404 whatever the body holds
    request, wants_binary = oip_json.infer_request(exchange.request, *exchange.model)
    exchange.request_id = request.id
    response = await runtime.inference.infer(request)
    exchange.model_version = response.model_version
    return oip_json.infer_response(response, wants_binary)


async def predict(runtime: Runtime, exchange: Exchange) -> Response:
    request = kanri_json.predict_request(exchange.request.body, runtime.dataplane.input_type)
    exchange.request_id = request.request_id
    response = await runtime.predictions.predict(request)
    exchange.model_version = response.model_version
    return kanri_json.predict_response(response)


async def service_info(runtime: Runtime, exchange: Exchange) -> Response:
    return kanri_json.service_info(runtime.predictions.service_info())


MODEL = "/v2/models/{name}"
VERSION = "/v2/models/{name}/versions/{version}"
ROUTES = (
    Route("GET", "/v2/health/live", "ServerLive", live, "Whether the server is live"),
    Route("GET", "/v2/health/ready", "ServerReady", ready, "Whether the server is ready (503 while not)"),
    Route("GET", "/v2", "ServerMetadata", server_metadata, "The server's name, version and extensions"),
    *(Route("GET", base, "ModelMetadata", model_metadata, "The model's versions, input and outputs")
      for base in (MODEL, VERSION)),
    *(Route("GET", f"{base}/ready", "ModelReady", model_ready, "Whether the model is ready (503 while not)")
      for base in (MODEL, VERSION)),
    *(Route("POST", f"{base}/infer", "ModelInfer", infer, "Run the model on a request's tensors", prediction=True)
      for base in (MODEL, VERSION)),
    Route("POST", "/kanri/v1/predict", "Predict", predict, "kanri's Predict: one input, its option dict",
          prediction=True),
    Route("GET", "/kanri/v1/info", "GetServiceInfo", service_info, "The service and its live model"),
)


class Router:
    """The server's app: a request in, its response out; it never raises but for cancellation."""

    def __init__(self, runtime: Runtime, routes: tuple[Route, ...]) -> None:
        self.runtime = runtime
        self.routes = routes
        self._by_verb: dict[str, list[Route]] = {}
        for route in routes:
            self._by_verb.setdefault(route.verb, []).append(route)

    def match(self, request: Request) -> tuple[Route, dict[str, str]] | Response:
        for route in self._by_verb.get(request.verb, ()):
            if found := route.pattern.match(request.path):
                return route, {key: unquote(value) for key, value in found.groupdict().items()}
        allowed = sorted({route.verb for route in self.routes if route.pattern.match(request.path)})
        if allowed:
            return error_response(405, f"{request.path} answers {' and '.join(allowed)}, not {request.verb}",
                                  (("Allow", ", ".join(allowed)),))
        return error_response(404, f"no route {request.path}: see GET /openapi.json for this server's paths")

    async def __call__(self, request: Request) -> Response:
        found = self.match(request)
        if isinstance(found, Response):
            return found
        route, params = found
        runtime = self.runtime
        span = None
        if runtime.tracing is not None:
            span = runtime.tracing.start_call(f"{route.verb} {route.template}", request.headers, {
                "http.request.method": route.verb, "http.route": route.template, "url.path": request.path})
        call = Call(runtime, route.call_name, span)
        exchange = Exchange(request, params)
        code, error = grpc.StatusCode.OK, ""
        try:
            if route.prediction:
                runtime.admit(request.headers.get("authorization", ""))
            response = await route.handle(runtime, exchange)
        except asyncio.CancelledError:  # the caller left
            call.end(grpc.StatusCode.CANCELLED, exchange.model_version, exchange.request_id, "", (SPAN_STATUS, 499))
            raise
        except Exception as exc:
            code, error = failure(exc)
            challenge = (("WWW-Authenticate", "Bearer"),) if code == grpc.StatusCode.UNAUTHENTICATED else ()
            response = error_response(HTTP_STATUS.get(code, 500), error, challenge)
        call.end(code, exchange.model_version, exchange.request_id, error, (SPAN_STATUS, response.status))
        return response
