from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Value(_message.Message):
    __slots__ = ("str", "bytes", "ints", "floats", "strs")
    STR_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    INTS_FIELD_NUMBER: _ClassVar[int]
    FLOATS_FIELD_NUMBER: _ClassVar[int]
    STRS_FIELD_NUMBER: _ClassVar[int]
    str: str
    bytes: bytes
    ints: IntList
    floats: FloatList
    strs: StringList
    def __init__(self, str: _Optional[str] = ..., bytes: _Optional[bytes] = ..., ints: _Optional[_Union[IntList, _Mapping]] = ..., floats: _Optional[_Union[FloatList, _Mapping]] = ..., strs: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...

class IntList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class FloatList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("input", "option", "request_id")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OPTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    input: Value
    option: _struct_pb2.Struct
    request_id: str
    def __init__(self, input: _Optional[_Union[Value, _Mapping]] = ..., option: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("output", "scores", "option", "model_version", "request_id")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    OPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    output: Value
    scores: _containers.RepeatedScalarFieldContainer[float]
    option: _struct_pb2.Struct
    model_version: str
    request_id: str
    def __init__(self, output: _Optional[_Union[Value, _Mapping]] = ..., scores: _Optional[_Iterable[float]] = ..., option: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., model_version: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetServiceInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServiceInfo(_message.Message):
    __slots__ = ("app", "service", "service_level", "model_version", "model_sha256", "model_uri", "model_format", "input_type", "output_type", "uptime_seconds", "model_loaded_seconds_ago", "batching", "runtime_version")
    APP_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_SHA256_FIELD_NUMBER: _ClassVar[int]
    MODEL_URI_FIELD_NUMBER: _ClassVar[int]
    MODEL_FORMAT_FIELD_NUMBER: _ClassVar[int]
    INPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_LOADED_SECONDS_AGO_FIELD_NUMBER: _ClassVar[int]
    BATCHING_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_VERSION_FIELD_NUMBER: _ClassVar[int]
    app: str
    service: str
    service_level: str
    model_version: str
    model_sha256: str
    model_uri: str
    model_format: str
    input_type: str
    output_type: str
    uptime_seconds: float
    model_loaded_seconds_ago: float
    batching: bool
    runtime_version: str
    def __init__(self, app: _Optional[str] = ..., service: _Optional[str] = ..., service_level: _Optional[str] = ..., model_version: _Optional[str] = ..., model_sha256: _Optional[str] = ..., model_uri: _Optional[str] = ..., model_format: _Optional[str] = ..., input_type: _Optional[str] = ..., output_type: _Optional[str] = ..., uptime_seconds: _Optional[float] = ..., model_loaded_seconds_ago: _Optional[float] = ..., batching: _Optional[bool] = ..., runtime_version: _Optional[str] = ...) -> None: ...

class SwitchModelRequest(_message.Message):
    __slots__ = ("model_uri", "sha256", "model_version")
    MODEL_URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_uri: str
    sha256: str
    model_version: str
    def __init__(self, model_uri: _Optional[str] = ..., sha256: _Optional[str] = ..., model_version: _Optional[str] = ...) -> None: ...

class SwitchModelResponse(_message.Message):
    __slots__ = ("info", "previous_model_version", "load_seconds")
    INFO_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    LOAD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    info: ServiceInfo
    previous_model_version: str
    load_seconds: float
    def __init__(self, info: _Optional[_Union[ServiceInfo, _Mapping]] = ..., previous_model_version: _Optional[str] = ..., load_seconds: _Optional[float] = ...) -> None: ...

class UploadModelRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadHeader(_message.Message):
    __slots__ = ("filename", "sha256", "activate", "model_version")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    filename: str
    sha256: str
    activate: bool
    model_version: str
    def __init__(self, filename: _Optional[str] = ..., sha256: _Optional[str] = ..., activate: _Optional[bool] = ..., model_version: _Optional[str] = ...) -> None: ...

class UploadModelResponse(_message.Message):
    __slots__ = ("model_uri", "sha256", "size", "switched")
    MODEL_URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SWITCHED_FIELD_NUMBER: _ClassVar[int]
    model_uri: str
    sha256: str
    size: int
    switched: SwitchModelResponse
    def __init__(self, model_uri: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., switched: _Optional[_Union[SwitchModelResponse, _Mapping]] = ...) -> None: ...

class EvaluateModelRequest(_message.Message):
    __slots__ = ("options", "example")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_FIELD_NUMBER: _ClassVar[int]
    options: EvaluateOptions
    example: LabelledExample
    def __init__(self, options: _Optional[_Union[EvaluateOptions, _Mapping]] = ..., example: _Optional[_Union[LabelledExample, _Mapping]] = ...) -> None: ...

class EvaluateOptions(_message.Message):
    __slots__ = ("return_details", "option")
    RETURN_DETAILS_FIELD_NUMBER: _ClassVar[int]
    OPTION_FIELD_NUMBER: _ClassVar[int]
    return_details: bool
    option: _struct_pb2.Struct
    def __init__(self, return_details: _Optional[bool] = ..., option: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class LabelledExample(_message.Message):
    __slots__ = ("input", "label")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    input: Value
    label: Value
    def __init__(self, input: _Optional[_Union[Value, _Mapping]] = ..., label: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class LabelMetrics(_message.Message):
    __slots__ = ("label", "support", "precision", "recall", "f1")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    F1_FIELD_NUMBER: _ClassVar[int]
    label: str
    support: int
    precision: float
    recall: float
    f1: float
    def __init__(self, label: _Optional[str] = ..., support: _Optional[int] = ..., precision: _Optional[float] = ..., recall: _Optional[float] = ..., f1: _Optional[float] = ...) -> None: ...

class ExampleResult(_message.Message):
    __slots__ = ("input", "label", "output", "correct", "scores")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    input: Value
    label: Value
    output: Value
    correct: bool
    scores: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, input: _Optional[_Union[Value, _Mapping]] = ..., label: _Optional[_Union[Value, _Mapping]] = ..., output: _Optional[_Union[Value, _Mapping]] = ..., correct: _Optional[bool] = ..., scores: _Optional[_Iterable[float]] = ...) -> None: ...

class EvaluateModelResponse(_message.Message):
    __slots__ = ("count", "accuracy", "precision", "recall", "f1", "per_label", "labels", "confusion_matrix", "details", "model_version")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    F1_FIELD_NUMBER: _ClassVar[int]
    PER_LABEL_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CONFUSION_MATRIX_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    count: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    per_label: _containers.RepeatedCompositeFieldContainer[LabelMetrics]
    labels: _containers.RepeatedScalarFieldContainer[str]
    confusion_matrix: _containers.RepeatedScalarFieldContainer[int]
    details: _containers.RepeatedCompositeFieldContainer[ExampleResult]
    model_version: str
    def __init__(self, count: _Optional[int] = ..., accuracy: _Optional[float] = ..., precision: _Optional[float] = ..., recall: _Optional[float] = ..., f1: _Optional[float] = ..., per_label: _Optional[_Iterable[_Union[LabelMetrics, _Mapping]]] = ..., labels: _Optional[_Iterable[str]] = ..., confusion_matrix: _Optional[_Iterable[int]] = ..., details: _Optional[_Iterable[_Union[ExampleResult, _Mapping]]] = ..., model_version: _Optional[str] = ...) -> None: ...
