"""The OpenAPI 3.0 document of one server's HTTP API, served at GET /openapi.json.

It is written for the server that serves it: the model name is the one this
server answers to, and kanri's Predict input and output are its predictor's
types. Paths come from kanri.serving.rest.routes, so the document lists what is
routed and nothing else.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from .. import __version__
from .._pb import serving_pb2 as pb
from ..predictor import INT64_MAX, INT64_MIN, type_name
from ..tensors import DATATYPE, DTYPES
from .oip_json import HEADER_LENGTH
from .routes import Route

SCHEMAS = "#/components/schemas/"
DATATYPES = sorted({*DTYPES, "BYTES"})
# The predictor's types as JSON Schemas (bytes travel as base64 text).
VALUE_SCHEMAS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "bytes": {"type": "string", "format": "byte"},
    "list[int]": {"type": "array", "items": {"type": "integer", "format": "int64", "minimum": INT64_MIN,
                                             "maximum": INT64_MAX}},
    "list[float]": {"type": "array", "items": {"type": "number"}},
    "list[str]": {"type": "array", "items": {"type": "string"}},
}
# Inputs of each type, to show the JSON forms (a model may refuse them: digits wants 64 pixels).
VALUE_EXAMPLES: dict[str, Any] = {"str": "hello", "bytes": "aGVsbG8=", "list[int]": [1, 2, 3],
                                  "list[float]": [0.5, 1.0, 2.0], "list[str]": ["a", "b"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMAS + name}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(schema)}}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


ERROR = {"description": "What was wrong", "content": _json("Error")}
INFER_ANSWER = {"application/json": {"schema": _ref("InferResponse")},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
# Per method: the request body's content, if any, and the answers besides the errors (see _responses).
OPERATIONS: dict[str, tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]] = {
    "ServerLive": (None, {"200": {"description": "Live", "content": _json("LiveResponse")}}),
    "ServerReady": (None, {"200": {"description": "Ready", "content": _json("ReadyResponse")},
                           "503": {"description": "Not ready", "content": _json("ReadyResponse")}}),
    "ServerMetadata": (None, {"200": {"description": "The server", "content": _json("ServerMetadata")}}),
    "ModelMetadata": (None, {"200": {"description": "The model", "content": _json("ModelMetadata")}}),
    "ModelReady": (None, {"200": {"description": "Ready", "content": _json("ModelReadyResponse")},
                          "503": {"description": "Not ready", "content": _json("ModelReadyResponse")}}),
    "ModelInfer": ({"application/json": {"schema": _ref("InferRequest")},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                   {"200": {"description": f"The outputs; binary ones follow the JSON, whose length is in the "
                                           f"{HEADER_LENGTH} header", "content": INFER_ANSWER}}),
    "Predict": (_json("PredictRequest"), {"200": {"description": "The prediction",
                                                  "content": _json("PredictResponse")}}),
    "GetServiceInfo": (None, {"200": {"description": "The service", "content": _json("ServiceInfo")}}),
    "OpenAPI": (None, {"200": {"description": "This document", "content": {"application/json": {
        "schema": {"type": "object"}}}}}),
}


def document(routes: tuple[Route, ...], app: str, input_type: Any, output_type: Any,
             guarded: bool = False) -> dict[str, Any]:
    """guarded: callers must authenticate to predict (serving.auth), so those operations name the bearer scheme."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation = _operation(route, app, type_name(input_type))
        if guarded and route.prediction:
            operation["security"] = [{"bearer": []}]
            operation["responses"]["401"] = {**ERROR, "description": "No token, or not one this server accepts"}
        paths.setdefault(route.template, {})[route.verb.lower()] = operation
    schemes = {"bearer": {"type": "http", "scheme": "bearer", "description": "The service's token, or a JWT"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"kanri: {app}", "version": __version__,
                 "description": "The Open Inference Protocol (KServe v2) REST API with the binary tensor data "
                                "extension, and kanri's Predict in JSON. See docs/http.md."},
        "paths": paths,
        "components": {"schemas": _schemas(input_type, output_type), **({"securitySchemes": schemes} if guarded
                                                                        else {})},
    }


def _operation(route: Route, app: str, input_name: str) -> dict[str, Any]:
    body, answers = OPERATIONS[route.method]
    versioned = "{version}" in route.template
    operation: dict[str, Any] = {"operationId": route.method + ("Version" if versioned else ""),
                                 "summary": route.summary, "responses": _responses(answers)}
    parameters = []
    if "{name}" in route.template:
        parameters.append({"name": "name", "in": "path", "required": True,
                           "description": "The model: this server's application", "schema": {"type": "string",
                                                                                              "enum": [app]}})
    if versioned:
        parameters.append({"name": "version", "in": "path", "required": True,
                           "description": "The live model version", "schema": {"type": "string"}})
    if route.method == "ModelInfer":
        parameters.append({"name": HEADER_LENGTH, "in": "header", "required": False,
                           "description": "With binary tensor data: the length of the JSON before it",
                           "schema": {"type": "integer", "minimum": 0}})
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        content = {**body, "application/json": {**body["application/json"], "example": _example(route.method,
                                                                                                   input_name)}}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


def _example(method: str, input_name: str) -> dict[str, Any]:
    value = VALUE_EXAMPLES[input_name]
    if method == "Predict":
        return {"input": value, "option": {"threshold": 0.5}}
    if input_name == "bytes":
        value = "hello"  # a BYTES element in JSON is text
    shape = [1, len(value)] if isinstance(value, list) else [1]
    data = value if isinstance(value, list) else [value]
    return {"inputs": [{"name": "input", "datatype": DATATYPE[input_name], "shape": shape, "data": data}]}


def _responses(answers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    errors = {status: ERROR for status in ("400", "404", "405", "413", "415", "431", "500", "503")}
    return {**errors, **answers}


def _schemas(input_type: Any, output_type: Any) -> dict[str, Any]:
    parameters = {"type": "object", "description": "true/false, numbers or strings; an option of any depth as "
                                                   "JSON text in 'option'",
                  "additionalProperties": {"oneOf": [{"type": "boolean"}, {"type": "number"}, {"type": "string"}]}}
    shape = {"type": "array", "items": {"type": "integer", "minimum": 0, "format": "int64"}}
    element = {"oneOf": [{"type": "boolean"}, {"type": "number"}, {"type": "string"}, {"type": "array"}]}
    return {
        "Error": _object({"error": {"type": "string"}}, ("error",)),
        "LiveResponse": _object({"live": {"type": "boolean"}}, ("live",)),
        "ReadyResponse": _object({"ready": {"type": "boolean"}}, ("ready",)),
        "ModelReadyResponse": _object({"name": {"type": "string"}, "ready": {"type": "boolean"}}, ("name", "ready")),
        "ServerMetadata": _object({"name": {"type": "string"}, "version": {"type": "string"},
                                   "extensions": {"type": "array", "items": {"type": "string"}}},
                                  ("name", "version", "extensions")),
        "TensorMetadata": _object({"name": {"type": "string"}, "datatype": {"type": "string"},
                                   "shape": {"type": "array", "items": {"type": "integer"}}},
                                  ("name", "datatype", "shape")),
        "ModelMetadata": _object({"name": {"type": "string"},
                                  "versions": {"type": "array", "items": {"type": "string"}},
                                  "platform": {"type": "string"},
                                  "inputs": {"type": "array", "items": _ref("TensorMetadata")},
                                  "outputs": {"type": "array", "items": _ref("TensorMetadata")}},
                                 ("name", "platform", "inputs", "outputs")),
        "Parameters": parameters,
        "InferInput": _object({"name": {"type": "string"}, "shape": shape,
                               "datatype": {"type": "string", "enum": DATATYPES},
                               "parameters": _object({"binary_data_size": {"type": "integer", "minimum": 0}}),
                               "data": {"type": "array", "items": element,
                                        "description": "Elements, nested or flat, in row-major order"}},
                              ("name", "shape", "datatype")),
        "RequestedOutput": _object({"name": {"type": "string", "enum": ["label", "scores"]},
                                    "parameters": _object({"binary_data": {"type": "boolean"}})}, ("name",)),
        "InferRequest": _object({"id": {"type": "string"}, "parameters": _ref("Parameters"),
                                 "inputs": {"type": "array", "items": _ref("InferInput")},
                                 "outputs": {"type": "array", "items": _ref("RequestedOutput")}}, ("inputs",)),
        "InferOutput": _object({"name": {"type": "string"}, "shape": shape, "datatype": {"type": "string"},
                                "parameters": _object({"binary_data_size": {"type": "integer", "minimum": 0}}),
                                "data": {"type": "array"}}, ("name", "shape", "datatype")),
        "InferResponse": _object({"model_name": {"type": "string"}, "model_version": {"type": "string"},
                                  "id": {"type": "string"}, "parameters": _ref("Parameters"),
                                  "outputs": {"type": "array", "items": _ref("InferOutput")}},
                                 ("model_name", "outputs")),
        "PredictRequest": _object({"input": VALUE_SCHEMAS[type_name(input_type)],
                                   "option": {"type": "object", "description": "Any JSON object; its numbers reach "
                                                                               "the predictor as floats"},
                                   "request_id": {"type": "string"}}, ("input",)),
        "PredictResponse": _object({"output": VALUE_SCHEMAS[type_name(output_type)],
                                    "scores": {"type": "array", "items": {"type": "number"}},
                                    "option": {"type": "object"}, "model_version": {"type": "string"},
                                    "request_id": {"type": "string"}},
                                   ("output", "scores", "option", "model_version", "request_id")),
        "ServiceInfo": _message(pb.ServiceInfo),
    }


def _message(message: type[Message]) -> dict[str, Any]:
    """A flat message of scalars as its JSON form's schema (every field present, as GET /kanri/v1/info sends)."""
    types = {FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_DOUBLE: "number",
             FieldDescriptor.TYPE_BOOL: "boolean"}
    fields = {field.name: {"type": types[field.type]} for field in message.DESCRIPTOR.fields}
    return _object(fields, tuple(fields))
