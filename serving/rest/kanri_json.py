"""kanri's Predict in JSON ⇄ its protobuf messages (kanri.serving.v1).

    POST /kanri/v1/predict  {"input": ..., "option": {...}, "request_id": "..."}
    200 {"output": ..., "scores": [...], "option": {...}, "model_version": "...", "request_id": "..."}

The input and output are the predictor's types in JSON: str a string,
list[int], list[float] and list[str] arrays, bytes a base64 string. The option
is any JSON object; as over gRPC (google.protobuf.Struct), its numbers reach
the predictor as floats. Everything past the decoding is serving.prediction's,
shared with the gRPC API.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from google.protobuf import json_format

from .._pb import serving_pb2 as pb
from ..codec import decode_value, dict_to_struct, encode_value, struct_to_dict
from ..errors import InvalidInput
from ..predictor import type_name
from .bodies import an_object, dump, kind, parse_object, required, text
from .messages import Response, json_response

JSON_FORMS = {"str": "a string", "bytes": "base64 text", "list[int]": "an array of integers",
              "list[float]": "an array of numbers", "list[str]": "an array of strings"}


def predict_request(body: bytes, input_type: Any) -> pb.PredictRequest:
    document = parse_object(body, "the predict request")
    data = required(document, "input", 'the predict request ({"input": ..., "option": {...}})')
    expected = type_name(input_type)
    if input_type is bytes and isinstance(data, str):
        try:
            data = base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise InvalidInput(f"input must be bytes as base64 text: {exc}") from None
    try:
        value = encode_value(data)
    except TypeError:
        raise InvalidInput(f"input must be {expected} ({JSON_FORMS[expected]}), got {kind(data)}") from None
    except ValueError as exc:  # an integer beyond int64, a string that is not Unicode
        raise InvalidInput(f"input must be {expected} ({JSON_FORMS[expected]}): {exc}") from None
    option = an_object(document.get("option", {}), '"option"')
    try:
        json.dumps(option, allow_nan=False)  # a number like 1e999 parses as infinity, which JSON cannot carry back
        struct = dict_to_struct(option)
    except (ValueError, OverflowError, RecursionError) as exc:  # that, a string not Unicode, a huge integer, depth
        raise InvalidInput(f"option cannot travel as a google.protobuf.Struct: {exc}") from None
    return pb.PredictRequest(input=value, option=struct,
                             request_id=text(document.get("request_id", ""), '"request_id"'))


def predict_response(response: pb.PredictResponse) -> Response:
    output = decode_value(response.output)
    if isinstance(output, bytes):
        output = base64.b64encode(output).decode("ascii")
    return Response(200, dump({"output": output, "scores": list(response.scores),
                               "option": struct_to_dict(response.option), "model_version": response.model_version,
                               "request_id": response.request_id}))


def service_info(info: pb.ServiceInfo) -> Response:
    return json_response(200, json_format.MessageToDict(info, preserving_proto_field_name=True,
                                                        always_print_fields_with_no_presence=True))
