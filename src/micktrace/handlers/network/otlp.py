"""The ``otlp`` handler: records as OpenTelemetry log records over OTLP/HTTP (protobuf) or gRPC.

Holds :class:`OtlpHandler`. Each record is encoded once (on the worker thread)
as a serialized ``opentelemetry.proto.logs.v1.LogRecord``; a batch becomes one
``ExportLogsServiceRequest``, its records grouped by resource (the record's
static ``service``/``version``/``environment`` fields as ``service.name``,
``service.version``, ``deployment.environment``). Limits: the OTLP spec sets
none; collectors default to a 4 MiB gRPC message, so batches stay under it.

May import: handlers.network; opentelemetry-proto (and grpcio) lazily.
"""

from __future__ import annotations

import os
import traceback
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from ...errors import ConfigError, MissingExtraError
from .batching import BatchLimits, Item
from .engine import BatchResult, NetworkHandler
from .http import HttpSender
from .retry import PERMANENT, RETRYABLE, DeliveryError

if TYPE_CHECKING:
    from ...record import LogRecord

PROTOCOLS = ("http/protobuf", "grpc")
#: OTel log data model severity numbers
_SEVERITY = ((50, 21, "FATAL"), (40, 17, "ERROR"), (30, 13, "WARN"), (20, 9, "INFO"), (10, 5, "DEBUG"), (0, 1, "TRACE"))
_RESOURCE_KEYS = (
    ("service", "service.name"),
    ("version", "service.version"),
    ("environment", "deployment.environment"),
)
#: gRPC status names the OTLP spec lists as retryable
_GRPC_RETRYABLE = frozenset(
    {"CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS", "RESOURCE_EXHAUSTED"}
)


def severity(level: int) -> Tuple[int, str]:
    """The OTel severity number and text of a micktrace level."""
    level = int(level)
    for floor, number, text in _SEVERITY:
        if level >= floor:
            return number + min(3, (level - floor) // 3) if floor else number, text
    return 1, "TRACE"


def _set_value(any_value: Any, value: Any) -> None:
    if isinstance(value, str):
        any_value.string_value = value
    elif isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int) and -(2**63) <= value < 2**63:
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    elif isinstance(value, bytes):
        any_value.bytes_value = value
    elif isinstance(value, Mapping):
        kvlist = any_value.kvlist_value
        for key, item in value.items():
            kv = kvlist.values.add()
            kv.key = str(key)
            _set_value(kv.value, item)
    elif isinstance(value, (list, tuple)):
        array = any_value.array_value
        for item in value:
            _set_value(array.values.add(), item)
    elif value is None:
        pass
    else:
        any_value.string_value = str(value)


def _env_headers(text: str) -> Dict[str, str]:
    import urllib.parse

    headers: Dict[str, str] = {}
    for part in text.split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            headers[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return headers


class OtlpHandler(NetworkHandler):
    """Send records to an OTLP receiver (an OpenTelemetry Collector).

    Args:
        endpoint: the URL; default ``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`` (as is),
            else ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/logs``, else
            ``http://localhost:4318/v1/logs`` (``localhost:4317`` for gRPC).
        protocol: ``"http/protobuf"`` (default) or ``"grpc"`` (needs grpcio).
        headers: request headers / gRPC metadata (default ``OTEL_EXPORTER_OTLP_HEADERS``); values are secrets.
        gzip: compress HTTP bodies (default False).
        timeout: seconds per request (the engine's option, default 10).
    """

    limits = BatchLimits(max_records=2_000, max_bytes=4 * 1024 * 1024 - 64 * 1024, max_record_bytes=1024 * 1024)

    def __init__(
        self,
        endpoint: Optional[str] = None,
        protocol: str = "http/protobuf",
        headers: Optional[Mapping[str, str]] = None,
        gzip: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if protocol not in PROTOCOLS:
            raise ConfigError("protocol", protocol, ", ".join(PROTOCOLS))
        if headers is not None and not isinstance(headers, Mapping):
            raise ConfigError("headers", headers, "a dict of header name -> value")
        try:
            from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
            from opentelemetry.proto.logs.v1 import logs_pb2
        except ImportError:
            raise MissingExtraError("the otlp handler", "opentelemetry", "opentelemetry.proto") from None
        self._pb = logs_pb2
        self._svc = logs_service_pb2
        self.protocol = protocol
        if headers is None:
            headers = _env_headers(os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
        self.headers = {str(k): str(v) for k, v in headers.items()}
        for value in self.headers.values():
            self.add_secret(value)
        if endpoint is None:
            endpoint = os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
        if endpoint is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            base = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
            endpoint = base if protocol == "grpc" else base.rstrip("/") + "/v1/logs"
        if endpoint is None:
            endpoint = "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318/v1/logs"
        self.endpoint = endpoint
        self._rejected_reported = False
        self._channel: Any = None
        if protocol == "grpc":
            try:
                import grpc  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
            except ImportError:
                raise MissingExtraError("the otlp handler over gRPC", "opentelemetry", "grpc") from None
        else:
            headers_out = dict(self.headers)
            headers_out["Content-Type"] = "application/x-protobuf"
            try:
                self.sender = HttpSender(endpoint, headers_out, timeout=self.timeout, gzip_body=bool(gzip))
            except ValueError:
                raise ConfigError("endpoint", endpoint, "an http:// or https:// URL") from None

    def encode(self, record: LogRecord) -> bytes:
        msg = self._pb.LogRecord()
        msg.time_unix_nano = record.time_ns
        msg.observed_time_unix_nano = record.time_ns
        number, msg.severity_text = severity(record.level)
        msg.severity_number = number  # type: ignore[assignment]
        msg.body.string_value = record.message
        attrs = msg.attributes
        fields: Dict[str, Any] = dict(record.context)
        fields.update(record.data)
        for name in ("trace_id", "span_id"):
            value = fields.pop(name, None)
            if isinstance(value, str):
                try:
                    setattr(msg, name, bytes.fromhex(value))
                except ValueError:
                    fields[name] = value
        for key, value in fields.items():
            kv = attrs.add()
            kv.key = str(key)
            _set_value(kv.value, value)
        if record.logger_name:
            msg.attributes.add(key="logger.name").value.string_value = record.logger_name
        if record.exc_info and record.exc_info[0] is not None:
            etype, exc, tb = record.exc_info
            msg.attributes.add(key="exception.type").value.string_value = getattr(etype, "__name__", str(etype))
            msg.attributes.add(key="exception.message").value.string_value = str(exc)
            text = "".join(traceback.format_exception(etype, exc, tb))
            msg.attributes.add(key="exception.stacktrace").value.string_value = text
        return msg.SerializeToString()  # type: ignore[no-any-return]

    def _request(self, batch: List[Item]) -> Any:
        request = self._svc.ExportLogsServiceRequest()
        groups: Dict[Tuple[Any, ...], Any] = {}
        for item in batch:
            static = item.record.static
            key = tuple(str(static.get(name, "")) for name, _ in _RESOURCE_KEYS)
            scope = groups.get(key)
            if scope is None:
                rl = request.resource_logs.add()
                for (_name, otel_name), value in zip(_RESOURCE_KEYS, key):
                    if value:
                        rl.resource.attributes.add(key=otel_name).value.string_value = value
                scope = rl.scope_logs.add()
                scope.scope.name = "micktrace"
                groups[key] = scope
            scope.log_records.add().MergeFromString(item.payload)
        return request

    def _partial(self, response: Any) -> Optional[BatchResult]:
        partial = response.partial_success
        if partial.rejected_log_records:
            if not self._rejected_reported:
                self._rejected_reported = True
                from ..._report import report

                report(
                    "otlp handler",
                    None,
                    f"had records rejected by the receiver ({partial.rejected_log_records}: {partial.error_message})",
                )
            self.counters["rejected"] += int(partial.rejected_log_records)
        return None

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        body = self._request(batch).SerializeToString()
        if self.protocol == "grpc":
            return self._send_grpc(body)
        _status, _headers, data = self.sender.post(body)
        response = self._svc.ExportLogsServiceResponse()
        try:
            response.ParseFromString(data)
        except Exception:
            return None
        return self._partial(response)

    def _send_grpc(self, body: bytes) -> Optional[BatchResult]:
        import grpc  # type: ignore[import-untyped,unused-ignore]

        if self._channel is None:
            target = self.endpoint.split("://", 1)[-1]
            if self.endpoint.startswith("https://"):
                self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
            else:
                self._channel = grpc.insecure_channel(target)
            self._export = self._channel.unary_unary(
                "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
                request_serializer=None,
                response_deserializer=self._svc.ExportLogsServiceResponse.FromString,
            )
        try:
            response = self._export(
                body, timeout=self.timeout, metadata=tuple((k.lower(), v) for k, v in self.headers.items())
            )
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            name = getattr(code, "name", "UNKNOWN")
            kind = RETRYABLE if name in _GRPC_RETRYABLE else PERMANENT
            if name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
                kind = "unauthorized"
            raise DeliveryError(f"gRPC {name}: {exc.details() if hasattr(exc, 'details') else exc}", kind) from None
        return self._partial(response)

    def reset_connection(self) -> None:
        if self.protocol == "grpc":
            channel, self._channel = self._channel, None
            if channel is not None:
                channel.close()
        else:
            self.sender.reset()

    def describe(self) -> str:
        return f"{self.protocol} {self.endpoint.split('?', 1)[0]}"
