"""Registers servicers so that an undecodable request is answered INVALID_ARGUMENT.

Left to itself, grpc.aio parses a request before any servicer code runs and
answers UNKNOWN ("Unexpected DecodeError") to bytes that are not a valid
message. Here a request that does not parse reaches the servicer as an
``Undecodable``, which serving.rpc turns into INVALID_ARGUMENT, measured and
logged like any other bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError, Message

from .errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A request whose bytes are not a valid message of the method's type."""

    type_name: str
    error: str

    def refuse(self) -> InvalidInput:
        return InvalidInput(f"the request is not a valid {self.type_name} message: {self.error}")


def _parser(message_type: type[Message]) -> Callable[[bytes], Message | Undecodable]:
    name = message_type.DESCRIPTOR.full_name

    def parse(data: bytes) -> Message | Undecodable:
        try:
            return message_type.FromString(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            return Undecodable(name, str(exc) or type(exc).__name__)

    return parse


_HANDLER_KINDS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def add_service(server: grpc.aio.Server, servicer: Any, service: ServiceDescriptor) -> None:
    handlers = {}
    for method in service.methods:
        make = _HANDLER_KINDS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=_parser(message_factory.GetMessageClass(method.input_type)),
            response_serializer=message_factory.GetMessageClass(method.output_type).SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
