"""Azure Monitor's Logs Ingestion API (Log Analytics custom tables) through azure-monitor-ingestion.

Holds :class:`IngestionSender` (one ``LogsIngestionClient`` per process, made on
the sender thread on first use, that uploads a batch already encoded as a
gzipped JSON array in one call) and :func:`row_of` (a record as one row of the
stream).

``LogsIngestionClient.upload(rule_id, stream_name, logs)`` posts
``{endpoint}/dataCollectionRules/{rule_id}/streams/{stream_name}?api-version=2023-01-01``
with a bearer token from the credential (scope ``https://monitor.azure.com/.default``).
Given a list it splits it in chunks of at most 1 MiB of JSON and re-serializes
it; given a readable stream it sends it as it is (``Content-Encoding: gzip``
when it starts with the gzip magic). The engine's batches are at most
1,000,000 bytes of JSON (the API's limit per call, "1 MB, compressed or not"),
so each batch is one call of the stream form: the rows are serialized once,
by us, and a failure is the whole batch's (the engine splits a 400 to find
the bad row). The client is made with ``retry_total=0`` (the engine retries,
with its backoff, circuit and exit deadline) and the handler's timeout.

Errors are azure-core's: ``HttpResponseError`` carries ``status_code`` and the
response's ``Retry-After`` (the engine's :func:`classify` reads both),
``ClientAuthenticationError`` (a 401, or a credential that cannot get a token)
is "unauthorized", ``ServiceRequestError``/``ServiceResponseError`` (connection
failures) are retryable.

May import: errors, levels, handlers.network (intake); azure-monitor-ingestion,
azure-core and azure-identity lazily.
"""

from __future__ import annotations

import importlib
import io
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from ...errors import MissingExtraError
from ...levels import LEVEL_NAMES, level_name
from .intake import attributes, trace_ids

if TYPE_CHECKING:
    from ...record import LogRecord

#: column names of a row that are ours; a record's field of that name is renamed when fields are flattened
COLUMNS = frozenset(
    {"TimeGenerated", "Level", "SeverityLevel", "Logger", "Message", "Properties", "TraceId", "SpanId",
     "Exception", "Caller", "Service", "Host"}
)  # fmt: skip


def load_sdk() -> Tuple[Any, Any]:
    """``LogsIngestionClient`` and azure-identity's ``DefaultAzureCredential`` class (or None
    when azure-identity is missing); MissingExtraError naming ``azure`` without the client."""
    try:
        client = importlib.import_module("azure.monitor.ingestion").LogsIngestionClient
    except ImportError:
        raise MissingExtraError("the azure handler's Logs Ingestion form", "azure", "azure-monitor-ingestion") from None
    try:
        default = importlib.import_module("azure.identity").DefaultAzureCredential
    except ImportError:
        default = None
    return client, default


def row_of(
    record: LogRecord, message: str, time_text: str, severity: int, host: str, flatten: bool, static: Dict[str, Any]
) -> Dict[str, Any]:
    """One row of the stream for *record* (before JSON)."""
    level = record.level
    row: Dict[str, Any] = {
        "TimeGenerated": time_text,
        "Level": LEVEL_NAMES.get(level) or level_name(level),
        "SeverityLevel": severity,
        "Logger": record.logger_name,
        "Message": message,
        "Host": host,
    }
    service = record.static.get("service")
    if service is not None:
        row["Service"] = str(service)
    trace_id, span_id = trace_ids(record)
    if trace_id is not None:
        row["TraceId"] = str(trace_id)
        if span_id is not None:
            row["SpanId"] = str(span_id)
    if record.exc_info is not None:
        exception = record.exception or {}
        row["Exception"] = exception.get("traceback") or f"{exception.get('type')}: {exception.get('message')}"
    if record.filename is not None:
        row["Caller"] = f"{record.filename}:{record.lineno} {record.func_name}"
    props = attributes(record, COLUMNS if flatten else frozenset(), static)
    if flatten:
        row.update(props)
    else:
        row["Properties"] = props
    return row


class IngestionSender:
    """Uploads encoded batches to one DCR stream.

    Args:
        endpoint: the data collection endpoint (or the DCR's logs ingestion endpoint).
        rule_id: the DCR's immutable id (``dcr-...``).
        stream_name: the stream (``Custom-<Table>_CL``).
        credential: an azure-core ``TokenCredential`` (None: azure-identity's ``DefaultAzureCredential()``).
        client_options: more keyword arguments for ``LogsIngestionClient`` (timeouts, ``connection_verify``).
    """

    def __init__(
        self, endpoint: str, rule_id: str, stream_name: str, credential: Any, client_options: Dict[str, Any]
    ) -> None:
        self._client_class, default_credential = load_sdk()
        if credential is None:
            if default_credential is None:
                raise MissingExtraError("the azure handler without a credential", "azure", "azure-identity")
            credential = default_credential()
        self.endpoint = endpoint
        self.rule_id = rule_id
        self.stream_name = stream_name
        self.credential = credential
        self.client_options = client_options
        self._client: Optional[Any] = None

    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_class(self.endpoint, self.credential, **self.client_options)
        return self._client

    def upload(self, gzipped: bytes) -> None:
        self.client().upload(rule_id=self.rule_id, stream_name=self.stream_name, logs=io.BytesIO(gzipped))

    def reset(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                pass
