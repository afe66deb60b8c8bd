"""The ``elasticsearch`` and ``opensearch`` handlers: records indexed through the ``_bulk`` API.

Holds :class:`ElasticsearchHandler` (type ``elasticsearch``) and
:class:`OpenSearchHandler` (type ``opensearch``; the same handler, preferring
opensearch-py). Each request is one ``_bulk`` call: an action line
(``{"index": {"_index": ...}}``, or ``create`` for a data stream) and the
document per record, newline-delimited. It goes through the cluster's Python
client when one is injected (``client=``) or installed (elasticsearch-py for
``elasticsearch``, opensearch-py for ``opensearch``), otherwise through the
engine's stdlib :class:`~micktrace.handlers.network.http.HttpSender`
(round-robin over ``hosts``). The documents are laid out by
:mod:`.elastic_docs` (ECS by default).

Results per item: 429 and 5xx items are sent again (only those); any other
failed item (a ``mapper_parsing_exception``...) goes to the fallback with the
cluster's reason; the rest are delivered. A whole request answered 401/403
opens the circuit ("unauthorized"); 413 splits the batch (the engine).

Limits: Elastic's indexing guide recommends bulk requests of about 5 MB
("Tune for indexing speed": start near 5 MB and measure); the hard limit is
``http.max_content_length`` (100 MB). Defaults: 5 MiB and 5,000 documents per
request, 1 MiB per document (a larger record is truncated with a marker).

May import: errors, serialize, handlers.network.
"""

from __future__ import annotations

import base64
import importlib
import json
import socket
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from ..._report import report
from ...errors import ConfigError, MissingExtraError
from ...serialize import get_dumps
from .batching import BatchLimits, BatchResult, Item
from .elastic_docs import IndexNamer, bulk_outcome, ecs_document, host_url, plain_document
from .engine import NetworkHandler
from .http import HttpSender
from .retry import RETRYABLE, DeliveryError, classify, parse_retry_after

if TYPE_CHECKING:
    from ...record import LogRecord

TRANSPORTS = ("auto", "sdk", "http")
#: what an SDK raises when the server does not speak its protocol (elasticsearch-py against OpenSearch)
_NOT_THIS_PRODUCT = frozenset({"UnsupportedProductError"})


class ElasticsearchHandler(NetworkHandler):
    """Index records into Elasticsearch (or OpenSearch) with the ``_bulk`` API.

    Args:
        hosts: a URL or a list of them (``"http://127.0.0.1:9200"``; ``"host:port"``
            means http; credentials in the URL are taken as basic auth). Default
            ``"http://127.0.0.1:9200"``.
        index: the index (or data stream) name, a ``time.strftime`` pattern applied
            to each record's UTC time (default ``"logs-micktrace-%Y.%m.%d"``).
        data_stream: write with the ``create`` op type (data streams require it).
        api_key: an encoded API key string, or an ``(id, key)`` tuple
            (``Authorization: ApiKey base64(id:key)``).
        username, password: basic authentication.
        ca_certs: a CA bundle to verify the cluster's certificate against.
        verify_certs: verify the certificate (default True).
        ecs: write Elastic Common Schema field names (default True); False writes
            micktrace's JSON layout with ``@timestamp``.
        client: an ``elasticsearch.Elasticsearch`` or ``opensearchpy.OpenSearch``
            to send through (its own hosts, auth and pool apply).
        transport: ``"auto"`` (the client library when installed, else stdlib HTTP),
            ``"sdk"`` (the client library, MissingExtraError without it) or ``"http"``.
    """

    limits = BatchLimits(max_records=5_000, max_bytes=5 * 1024 * 1024, max_record_bytes=1024 * 1024)
    #: the client library this type prefers, and the one after it
    sdk_modules: Tuple[str, ...] = ("elasticsearch", "opensearchpy")
    kind = "elasticsearch"
    #: the extra that installs ``sdk_modules[0]``
    extra = "elastic"

    def __init__(
        self,
        hosts: Union[str, Sequence[str], None] = None,
        index: str = "logs-micktrace-%Y.%m.%d",
        data_stream: bool = False,
        api_key: Union[str, Tuple[str, str], List[str], None] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        ca_certs: Optional[str] = None,
        verify_certs: bool = True,
        ecs: bool = True,
        client: Any = None,
        transport: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if transport not in TRANSPORTS:
            raise ConfigError("transport", transport, ", ".join(TRANSPORTS))
        if hosts is None:
            hosts = ["http://127.0.0.1:9200"]
        host_list = [hosts] if isinstance(hosts, str) else list(hosts) if isinstance(hosts, (list, tuple)) else None
        if not host_list:
            raise ConfigError("hosts", hosts, "a URL such as 'http://127.0.0.1:9200' or a list of them")
        self.hosts: List[str] = []
        for host in host_list:
            url, user, secret = host_url(host)
            self.hosts.append(url)
            if user and username is None:
                username, password = user, secret
        self.index_name = IndexNamer(index)
        self.data_stream = bool(data_stream)
        self.op_type = "create" if self.data_stream else "index"
        self.ecs = bool(ecs)
        self.verify_certs = bool(verify_certs)
        self.ca_certs = ca_certs
        self.hostname = socket.gethostname()
        self._dumps = get_dumps()
        self._actions: Dict[str, bytes] = {}
        self.api_key = self._api_key(api_key)
        if password is not None and username is None:
            raise ConfigError("username", None, "a user name (a password was given)")
        self.username, self.password = username, password
        key_part = api_key[1] if isinstance(api_key, (tuple, list)) else None  # the id is not a secret
        for secret in (password, self.api_key, key_part):
            self.add_secret(secret)
        self.headers: Dict[str, str] = {"Content-Type": "application/x-ndjson", "Accept": "application/json"}
        if self.api_key:
            self.headers["Authorization"] = "ApiKey " + self.api_key
        elif username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = "Basic " + token
            self.add_secret(token)
        self.transport = transport
        self._injected = client
        self._client: Any = client
        self._sdk: Optional[str] = None  # the module name of the client library in use
        if client is not None:
            self._sdk = _library_of(client)
        elif transport != "http":
            self._sdk = self._find_sdk(required=transport == "sdk")
        self._senders: List[HttpSender] = []
        self._next_host = 0

    # -- configuration ---------------------------------------------------------------
    @staticmethod
    def _api_key(api_key: Any) -> Optional[str]:
        if api_key is None:
            return None
        if isinstance(api_key, str) and api_key:
            return api_key
        if isinstance(api_key, (tuple, list)) and len(api_key) == 2 and all(isinstance(p, str) for p in api_key):
            return base64.b64encode(f"{api_key[0]}:{api_key[1]}".encode()).decode()
        raise ConfigError("api_key", "[REDACTED]", "an encoded API key string, or an (id, key) tuple")

    def _find_sdk(self, required: bool) -> Optional[str]:
        for module in self.sdk_modules if not required else self.sdk_modules[:1]:
            try:
                importlib.import_module(module)
            except ImportError:
                continue
            return module
        if required:
            raise MissingExtraError(f"the {self.kind!r} handler with transport='sdk'", self.extra, self.sdk_modules[0])
        return None

    # -- encoding ------------------------------------------------------------------------
    def encode(self, record: LogRecord) -> bytes:
        index = self.index_name(record.time_ns)
        action = self._actions.get(index)
        if action is None:
            action = json.dumps({self.op_type: {"_index": index}}).encode() + b"\n"
            if len(self._actions) > 64:  # a date pattern makes a new name a day: keep the cache small
                self._actions.clear()
            self._actions[index] = action
        doc = ecs_document(record, self.hostname) if self.ecs else plain_document(record)
        return action + self._dumps(doc).encode("utf-8", "replace") + b"\n"

    # -- sending -------------------------------------------------------------------------
    def send(self, batch: List[Item]) -> Optional[BatchResult]:
        body = b"".join(item.payload for item in batch)
        if self._sdk is not None:
            try:
                response = self._send_sdk(body)
            except Exception as exc:
                if not self._wrong_product(exc):
                    raise
                response = self._send_http(body)
        else:
            response = self._send_http(body)
        try:
            return bulk_outcome(response, len(batch))
        except ValueError as exc:
            raise DeliveryError(f"unexpected bulk response: {exc}", RETRYABLE) from None

    def _send_sdk(self, body: bytes) -> Any:
        client = self._client
        if client is None:
            client = self._client = self._build_client()
        if self._sdk == "elasticsearch":
            response = client.bulk(operations=body)
        else:
            response = client.bulk(body=body)
        return getattr(response, "body", response)  # elasticsearch-py 8 wraps the dict

    def _wrong_product(self, exc: BaseException) -> bool:
        """True (and from now on plain HTTP) when the client library we chose does not
        speak this server's protocol: elasticsearch-py's product check failed, or the
        server refused its compatibility headers (406)."""
        if self._injected is not None or self.transport != "auto":
            return False
        names = {klass.__name__ for klass in type(exc).__mro__}
        if not (names & _NOT_THIS_PRODUCT or _status(exc) == 406):
            return False
        report(
            f"handler {self.name!r}",
            None,
            f"{self._sdk} cannot talk to {self.hosts[0]} ({type(exc).__name__}): sending with plain HTTP from now on",
        )
        self._close_client()
        self._sdk = None
        return True

    def _build_client(self) -> Any:
        module = importlib.import_module(self._sdk or "")
        options: Dict[str, Any] = {"verify_certs": self.verify_certs, "max_retries": 0, "retry_on_timeout": False}
        if self.ca_certs:
            options["ca_certs"] = self.ca_certs
        if self._sdk == "elasticsearch":
            options["request_timeout"] = self.timeout
            if self.api_key:
                options["api_key"] = self.api_key
            elif self.username is not None:
                options["basic_auth"] = (self.username, self.password or "")
            return module.Elasticsearch(self.hosts, **options)
        options["timeout"] = self.timeout
        if self.api_key:
            options["headers"] = {"Authorization": "ApiKey " + self.api_key}
        elif self.username is not None:
            options["http_auth"] = (self.username, self.password or "")
        return module.OpenSearch(self.hosts, **options)

    def _send_http(self, body: bytes) -> Any:
        if not self._senders:
            self._senders = [
                HttpSender(
                    url + "/_bulk", self.headers, timeout=self.timeout, verify=self.verify_certs, ca_certs=self.ca_certs
                )
                for url in self.hosts
            ]
        sender = self._senders[self._next_host % len(self._senders)]
        self._next_host += 1  # round robin: the next request (or the retry of this one) goes to the next host
        _status_code, _headers, data = sender.post(body)
        try:
            return json.loads(data)
        except ValueError:
            return data.decode("utf-8", "replace")

    def classify(self, exc: BaseException) -> DeliveryError:
        if isinstance(exc, DeliveryError):
            return exc
        status = _status(exc)
        if status is not None and not {k.__name__ for k in type(exc).__mro__} & _NOT_THIS_PRODUCT:
            return DeliveryError.from_status(status, f"{type(exc).__name__}: {exc}", _retry_after(exc))
        return classify(exc)

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None and client is not self._injected:
            try:
                client.close()
            except Exception:
                pass
        if self._injected is not None:
            self._client = self._injected

    def reset_connection(self) -> None:
        self._close_client()
        for sender in self._senders:
            sender.reset()
        self._senders = []

    def describe(self) -> str:
        via = self._sdk or "http"
        where = self.hosts[0] if self._injected is None else "an injected client"
        more = f" (+{len(self.hosts) - 1} more)" if self._injected is None and len(self.hosts) > 1 else ""
        return f"{where}{more} index={self.index_name.pattern} via {via}"


class OpenSearchHandler(ElasticsearchHandler):
    """The ``opensearch`` type: :class:`ElasticsearchHandler` preferring opensearch-py."""

    sdk_modules = ("opensearchpy",)
    kind = "opensearch"
    extra = "opensearch"


def _library_of(client: Any) -> str:
    module = type(client).__module__.split(".", 1)[0]
    return "elasticsearch" if module == "elasticsearch" else "opensearchpy"


def _status(exc: BaseException) -> Optional[int]:
    """The HTTP status an SDK exception carries (elasticsearch-py's ``meta.status``,
    opensearch-py's ``status_code``), or None."""
    meta = getattr(exc, "meta", None)
    value = getattr(meta, "status", None) if meta is not None else None
    if not isinstance(value, int):
        value = getattr(exc, "status_code", None)
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
        return value
    return None


def _retry_after(exc: BaseException) -> Optional[float]:
    headers = getattr(getattr(exc, "meta", None), "headers", None)
    if headers is None:
        return None
    try:
        return parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    except Exception:
        return None
