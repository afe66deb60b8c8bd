"""How a failed delivery is classified and when it is tried again.

Holds :class:`DeliveryError` (what a backend's ``send`` raises, or what any
other exception is classified as), :func:`classify` (HTTP statuses, socket
errors and the SDKs' throttling exceptions into retryable / permanent /
unauthorized / too large), :func:`parse_retry_after` and :class:`Backoff`
(exponential backoff with full jitter, honouring ``Retry-After``).

Imports nothing of micktrace.
"""

from __future__ import annotations

import email.utils
import random
import socket
import time
from typing import Any, Optional

RETRYABLE = "retryable"
PERMANENT = "permanent"
UNAUTHORIZED = "unauthorized"
TOO_LARGE = "too_large"
KINDS = (RETRYABLE, PERMANENT, UNAUTHORIZED, TOO_LARGE)

#: HTTP statuses worth another try: throttled, timed out, or a server-side failure
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: the backend refuses our credentials: stop sending until a probe succeeds
UNAUTHORIZED_STATUSES = frozenset({401, 403})
#: the request was too large: split the batch
TOO_LARGE_STATUSES = frozenset({413})

#: exception class names the platforms' SDKs raise when they throttle or time out
_RETRYABLE_NAMES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "ConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ProtocolError",
        "ConnectionTimeout",
        "TransportError",
        "ServiceRequestError",
        "ServiceResponseError",
        "DeadlineExceeded",
        "RetryError",
        "TooManyRequests",
        "ResourceExhausted",
    }
)
_UNAUTHORIZED_NAMES = frozenset(
    {
        "UnrecognizedClientException",
        "AccessDeniedException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "AuthenticationException",
        "AuthorizationException",
        "ClientAuthenticationError",
        "Unauthenticated",
        "PermissionDenied",
        "Forbidden",
        "Unauthorized",
        "NoCredentialsError",
    }
)


class DeliveryError(Exception):
    """A batch (or a part of it) could not be delivered.

    Args:
        reason: what the backend said, for health output and the fallback.
        kind: ``"retryable"``, ``"permanent"``, ``"unauthorized"`` or ``"too_large"``.
        status: the HTTP status (or the SDK's equivalent), when there is one.
        retry_after: seconds the backend asked us to wait, when it did.
    """

    def __init__(
        self, reason: str, kind: str = RETRYABLE, status: Optional[int] = None, retry_after: Optional[float] = None
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    @classmethod
    def from_status(cls, status: int, reason: str, retry_after: Optional[float] = None) -> DeliveryError:
        """The error for an HTTP *status* that is not a success."""
        return cls(reason, kind_of_status(status), status, retry_after)

    def __repr__(self) -> str:
        return f"DeliveryError({self.reason!r}, kind={self.kind!r}, status={self.status!r})"


def kind_of_status(status: int) -> str:
    """The kind of failure an HTTP *status* means."""
    if status in UNAUTHORIZED_STATUSES:
        return UNAUTHORIZED
    if status in TOO_LARGE_STATUSES:
        return TOO_LARGE
    if status in RETRYABLE_STATUSES or status >= 500:
        return RETRYABLE
    return PERMANENT


def parse_retry_after(value: Any) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(exc: BaseException) -> DeliveryError:
    """Any exception raised while sending, as a :class:`DeliveryError`.

    Timeouts, refused or reset connections and the SDKs' throttling errors are
    retryable; credential errors are "unauthorized"; an exception that carries
    an HTTP status (``status``, ``status_code``, ``code`` or botocore's
    ``response["ResponseMetadata"]["HTTPStatusCode"]``) is classified by it;
    anything else unknown is retryable (a transient failure is the common case,
    and the retries are bounded).
    """
    if isinstance(exc, DeliveryError):
        return exc
    reason = f"{type(exc).__name__}: {exc}"
    names = {klass.__name__ for klass in type(exc).__mro__}
    code = _error_code(exc)
    if code is not None:
        names.add(code)
    if names & _UNAUTHORIZED_NAMES:
        return DeliveryError(reason, UNAUTHORIZED, _status_of(exc))
    if names & _RETRYABLE_NAMES:
        return DeliveryError(reason, RETRYABLE, _status_of(exc), _retry_after_of(exc))
    status = _status_of(exc)
    if status is not None and 100 <= status < 600:
        return DeliveryError(reason, kind_of_status(status), status, _retry_after_of(exc))
    if isinstance(exc, (socket.timeout, TimeoutError, ConnectionError, OSError)):
        return DeliveryError(reason, RETRYABLE)
    return DeliveryError(reason, RETRYABLE)


def _error_code(exc: BaseException) -> Optional[str]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str):
            return code
    return None


def _status_of(exc: BaseException) -> Optional[int]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    for attr in ("status", "status_code", "http_status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    if response is not None:
        value = getattr(response, "status_code", None) or getattr(response, "status", None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _retry_after_of(exc: BaseException) -> Optional[float]:
    for source in (getattr(exc, "headers", None), getattr(getattr(exc, "response", None), "headers", None)):
        if source is not None:
            try:
                value = source.get("Retry-After") or source.get("retry-after")
            except Exception:
                continue
            parsed = parse_retry_after(value)
            if parsed is not None:
                return parsed
    return None


class Backoff:
    """Exponential backoff with full jitter: attempt *n* waits a random time in
    ``[0, min(cap, base * 2**n)]``; a ``Retry-After`` from the backend wins
    (capped by ``cap``, so a hostile header cannot park the handler for hours).

    ``rng`` is a :class:`random.Random` (tests pass a seeded one).
    """

    def __init__(self, base: float = 0.2, cap: float = 30.0, rng: Optional[random.Random] = None) -> None:
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        if retry_after is not None:
            return min(self.cap, max(0.0, retry_after))
        ceiling = min(self.cap, self.base * (2 ** min(attempt, 30)))
        return self._rng.uniform(0.0, ceiling)
