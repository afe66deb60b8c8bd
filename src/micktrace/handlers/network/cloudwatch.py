"""The ``cloudwatch`` handler: records as CloudWatch Logs events, sent with boto3's ``PutLogEvents``.

Holds :class:`CloudWatchHandler` and :data:`RETENTION_DAYS` (the values
``PutRetentionPolicy`` accepts). Each event's message is the handler's
formatter output (JSON lines by default), already masked; its timestamp is the
record's time in milliseconds.

The limits of one ``PutLogEvents`` call, from the CloudWatch Logs API reference
(PutLogEvents, "The batch of events must satisfy the following constraints"),
are the engine's :class:`~micktrace.handlers.network.batching.BatchLimits` here:

* at most 10,000 events and 1,048,576 bytes per call, each event counted as
  its message's UTF-8 bytes plus 26;
* an event at most 1,048,576 - 26 bytes (a larger one is truncated with the
  engine's visible marker);
* the events of a call in timestamp order; one call spans at most 24 hours
  (a wider batch is split);
* sequence tokens are ignored by the service now and are not sent.

Events older than 14 days (or the group's retention) or more than 2 hours in
the future are refused one by one (``rejectedLogEventsInfo``): those records
go to the fallback with the reason, counted as rejected. Before a process's
first batch to a stream the stream is created (``CreateLogStream``; the group
too when it is missing), when ``create_stream``/``create_group`` allow it; a
``ResourceNotFoundException`` later (the stream or group deleted) creates them
again and the same batch is sent again.

boto3 is imported lazily (the ``aws`` extra). The client is made with botocore
retries off (``total_max_attempts=1``) and the handler's ``timeout`` as its
connect and read timeouts: the engine does the retries, with its backoff,
circuit and exit deadline, not botocore.

May import: errors, formatters, handlers.network.
"""

from __future__ import annotations

import importlib
import os
import re
import socket
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set

from ...errors import ConfigError, MissingExtraError
from ...formatters.json import JSONFormatter
from .batching import BatchLimits, BatchResult, Item
from .engine import NetworkHandler
from .retry import PERMANENT, RETRYABLE, DeliveryError, classify, parse_retry_after

if TYPE_CHECKING:
    from ...record import LogRecord

#: the values PutRetentionPolicy's ``retentionInDays`` accepts
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)  # fmt: skip
MAX_EVENT_BYTES = 1_048_576 - 26
PLACEHOLDERS = ("hostname", "pid", "date")
_GROUP_NAME = re.compile(r"^[A-Za-z0-9_\-/.#]{1,512}$")
_DAY_MS = 86_400_000
_EXISTS = ("ResourceAlreadyExistsException", "OperationAbortedException")


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str):
            return code
    return ""


def _one_of(name: str, value: Any, alias: str, other: Any) -> Any:
    if value is not None and other is not None and value != other:
        raise ConfigError(alias, other, f"the same value as {name!r} ({value!r}), or only one of the two")
    return value if value is not None else other


class CloudWatchHandler(NetworkHandler):
    """Send records to a CloudWatch Logs log stream.

    Args:
        log_group_name (alias ``log_group``): the log group (required).
        log_stream_name (alias ``log_stream``): the stream; placeholders ``{hostname}``, ``{pid}``
            (the process sending, so a forked child writes its own stream) and ``{date}`` (the UTC
            date, ``YYYY-MM-DD``, of the batch's first record). Default ``"{hostname}-{pid}"``.
        region (alias ``region_name``): the AWS region (default: boto3's, from ``AWS_REGION``,
            ``AWS_DEFAULT_REGION`` or the profile).
        create_group, create_stream: create the group / the stream when missing (default True).
        retention_days: set this retention (``PutRetentionPolicy``) on a group the handler created.
        endpoint_url: another endpoint (a VPC endpoint, a local emulator); boto3 also reads
            ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`` itself.
        boto3_session: a ``boto3.session.Session`` to make the client from.
        client: a ready ``logs`` client (used as it is: its own timeouts and retries apply).
        aws_access_key_id, aws_secret_access_key, aws_session_token: explicit credentials
            (default: boto3's credential chain); never shown in repr, errors or health.
    """

    limits = BatchLimits(
        max_records=10_000,
        max_bytes=1_048_576,
        max_record_bytes=MAX_EVENT_BYTES,
        record_overhead=26,
        max_span_seconds=24 * 3600 - 1,  # "cannot exceed 24 hours": one second of margin
        time_ordered=True,
    )

    def __init__(
        self,
        log_group_name: Optional[str] = None,
        log_stream_name: Optional[str] = None,
        region: Optional[str] = None,
        create_group: bool = True,
        create_stream: bool = True,
        retention_days: Optional[int] = None,
        endpoint_url: Optional[str] = None,
        boto3_session: Any = None,
        client: Any = None,
        aws_access_key_id: Optional[str] = None,
        aws_secret_access_key: Optional[str] = None,
        aws_session_token: Optional[str] = None,
        log_group: Optional[str] = None,
        log_stream: Optional[str] = None,
        region_name: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        group = _one_of("log_group_name", log_group_name, "log_group", log_group)
        if not isinstance(group, str) or not _GROUP_NAME.match(group):
            raise ConfigError("log_group_name", group, "a log group name: 1-512 of A-Z a-z 0-9 _ - / . #")
        stream = _one_of("log_stream_name", log_stream_name, "log_stream", log_stream) or "{hostname}-{pid}"
        try:
            sample = str(stream).format(hostname="h", pid=1, date="2024-01-01")
        except (KeyError, IndexError, ValueError):
            sample = ""
        if not isinstance(stream, str) or not sample or len(sample) > 512:
            raise ConfigError("log_stream_name", stream, "a stream name with only {hostname}, {pid} or {date}")
        if retention_days is not None and retention_days not in RETENTION_DAYS:
            raise ConfigError("retention_days", retention_days, ", ".join(map(str, RETENTION_DAYS)))
        if endpoint_url is not None and not (isinstance(endpoint_url, str) and "://" in endpoint_url):
            raise ConfigError("endpoint_url", endpoint_url, "an http:// or https:// URL")
        kwargs.setdefault("formatter", JSONFormatter())
        super().__init__(**kwargs)
        try:
            self._sdk_session: Any = importlib.import_module("boto3.session").Session
            self._sdk_config: Any = importlib.import_module("botocore.config").Config
        except ImportError:
            raise MissingExtraError("the cloudwatch handler", "aws", "boto3") from None
        for secret in (aws_access_key_id, aws_secret_access_key, aws_session_token):
            self.add_secret(secret)
        self.log_group_name = group
        self.log_stream_name = stream
        self.create_group = bool(create_group)
        self.create_stream = bool(create_stream)
        self.retention_days = retention_days
        self.endpoint_url = endpoint_url
        self._credentials = {
            "aws_access_key_id": aws_access_key_id,
            "aws_secret_access_key": aws_secret_access_key,
            "aws_session_token": aws_session_token,
        }
        self._given_session = boto3_session
        self._given_client = client
        region = _one_of("region", region, "region_name", region_name)
        if client is not None:
            region = region or getattr(getattr(client, "meta", None), "region_name", None)
        else:
            region = region or self._session().region_name
        if not region:
            raise ConfigError("region", None, "a region name: region=..., AWS_REGION, AWS_DEFAULT_REGION or a profile")
        self.region = str(region)
        self._client: Any = client
        self._ready: Set[str] = set()  # streams known to exist (made or seen by this process)
        self._hostname = re.sub(r"[:*]", "_", socket.gethostname()) or "localhost"

    # -- boto3 -------------------------------------------------------------------------
    def _session(self) -> Any:
        if self._given_session is not None:
            return self._given_session
        creds = {k: v for k, v in self._credentials.items() if v is not None}
        return self._sdk_session(region_name=getattr(self, "region", None), **creds)

    def _logs(self) -> Any:
        """The client (made on first use, on the sender thread: what botocore logs then is not sent again)."""
        if self._client is None:
            config = self._sdk_config(
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
                retries={"total_max_attempts": 1, "mode": "standard"},  # the engine retries
                user_agent_extra="micktrace",
                # the events are built here, always {"timestamp": int, "message": str}: botocore's
                # per-event check of what we built would double the CPU of a 10,000-event call
                parameter_validation=False,
            )
            self._client = self._session().client(
                "logs", region_name=self.region, endpoint_url=self.endpoint_url, config=config
            )
        return self._client

    def reset_connection(self) -> None:
        client, self._client = self._client, self._given_client
        self._ready = set()
        if client is not None and client is not self._given_client:
            try:
                client.close()
            except Exception:
                pass

    # -- the engine's hooks ---------------------------------------------------------------
    def encode(self, record: LogRecord) -> bytes:
        return self.format(record).encode("utf-8", "replace") or b"-"

    def stream_for(self, batch: List[Item]) -> str:
        """The stream *batch* goes to (the placeholders filled in)."""
        date = time.strftime("%Y-%m-%d", time.gmtime(batch[0].time_ns / 1e9)) if batch else ""
        name = self.log_stream_name.format(hostname=self._hostname, pid=os.getpid(), date=date)
        return re.sub(r"[:*]", "_", name)

    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        client = self._logs()
        stream = self.stream_for(batch)
        if self.create_stream and stream not in self._ready:  # a small call, not a refused 1 MB one
            refused = self._ensure(client, stream)
            if refused is not None:
                return BatchResult(rejected=[(i, refused) for i in range(len(batch))])
            self._ready.add(stream)
        events = [{"timestamp": item.time_ns // 1_000_000, "message": item.payload.decode("utf-8")} for item in batch]
        try:
            response = self._put(client, stream, events)
        except Exception as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            self._ready.discard(stream)  # deleted since, or never there
            refused = self._ensure(client, stream, exc)
            if refused is not None:
                return BatchResult(rejected=[(i, refused) for i in range(len(batch))])
            try:
                response = self._put(client, stream, events)
            except Exception as again:
                if _code(again) == "ResourceNotFoundException":  # created a moment ago: not visible yet
                    raise DeliveryError(f"{type(again).__name__}: {again}", RETRYABLE) from again
                raise
            self._ready.add(stream)
        return self._rejections(response, events)

    def _put(self, client: Any, stream: str, events: List[Dict[str, Any]]) -> Any:
        return client.put_log_events(logGroupName=self.log_group_name, logStreamName=stream, logEvents=events)

    def _ensure(self, client: Any, stream: str, missing: Optional[BaseException] = None) -> Optional[str]:
        """Create *stream* (and the group, when it is missing and that is allowed); the
        reason to refuse the batch when what is missing may not be created."""
        group = self.log_group_name
        if not self.create_stream:
            return f"{missing} (log group {group!r}, stream {stream!r}; create_stream is off)"
        try:
            client.create_log_stream(logGroupName=group, logStreamName=stream)
            return None
        except Exception as error:
            code = _code(error)
            if code in _EXISTS:
                return None
            if code != "ResourceNotFoundException":
                raise
        if not self.create_group:
            return f"log group {group!r} does not exist and create_group is off"
        try:
            client.create_log_group(logGroupName=group)
        except Exception as error:
            if _code(error) not in _EXISTS:
                raise
        else:
            if self.retention_days is not None:
                client.put_retention_policy(logGroupName=group, retentionInDays=self.retention_days)
        try:
            client.create_log_stream(logGroupName=group, logStreamName=stream)
        except Exception as error:
            if _code(error) not in _EXISTS:
                raise
        return None

    def _rejections(self, response: Any, events: List[Dict[str, Any]]) -> Optional[BatchResult]:
        info = response.get("rejectedLogEventsInfo") if isinstance(response, dict) else None
        if not info:
            return None
        n = len(events)
        rejected: Dict[int, str] = {}
        now_ms = int(time.time() * 1000)

        def before(end: Any, days: Optional[int], reason: str) -> None:
            if not isinstance(end, int):
                return
            # documented as exclusive; an emulator reports the last refused index itself: the
            # event at *end* is refused too when its own timestamp says so
            if days is not None and 0 <= end < n and events[end]["timestamp"] < now_ms - days * _DAY_MS:
                end += 1
            for i in range(max(0, min(end, n))):
                rejected.setdefault(i, reason)

        before(info.get("tooOldLogEventEndIndex"), min(14, self.retention_days or 14),
               "too old for CloudWatch Logs (more than 14 days, or before the group's retention)")  # fmt: skip
        before(info.get("expiredLogEventEndIndex"), self.retention_days,
               "expired: older than the log group's retention")  # fmt: skip
        start = info.get("tooNewLogEventStartIndex")
        if isinstance(start, int):
            for i in range(max(0, start), n):
                rejected.setdefault(i, "too new for CloudWatch Logs (more than 2 hours in the future)")
        return BatchResult(rejected=sorted(rejected.items())) if rejected else None

    def classify(self, exc: BaseException) -> DeliveryError:
        if type(exc).__name__ == "ParamValidationError":  # botocore refused the request before sending it
            return DeliveryError(f"{type(exc).__name__}: {exc}", PERMANENT)
        error = classify(exc)
        if error.retry_after is None:
            response = getattr(exc, "response", None)
            if isinstance(response, dict):
                headers = response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
                error.retry_after = parse_retry_after(headers.get("retry-after"))
        return error

    def describe(self) -> str:
        where = f"cloudwatch://{self.region}/{self.log_group_name}"
        if self.endpoint_url:
            where += f" via {self.endpoint_url.split('@')[-1]}"
        return where
