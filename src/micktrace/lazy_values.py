"""Lazy field values: ``micktrace.lazy(fn)``, computed only when a record is written.

A field whose value is :func:`lazy` ``(fn)`` costs nothing at a disabled level
or for a record a processor or a handler's filter drops: ``fn()`` runs when
the first formatter writes the record (:func:`resolve`, called by every
formatter), once per record however many handlers write it, and its result
replaces the stand-in in the record's fields. A ``fn`` that raises gives the
text ``<lazy value raised Type: message>`` instead; nothing is raised.

Until the first ``lazy()`` call :data:`used` is False and formatters skip the
check entirely.

May import: errors, serialize.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Dict

from .errors import ConfigError
from .serialize import safe_repr, safe_str, swallowable

if TYPE_CHECKING:
    from .record import LogRecord

#: True once lazy() was called in this process: formatters look for lazy values only then
used = False
# one record's values are computed under this lock, so two handlers writing the
# same record from two threads compute them once; a thread that cannot have it
# within the timeout computes them itself (a second evaluation, never a deadlock)
_lock = threading.RLock()
_LOCK_TIMEOUT = 1.0


class Lazy:
    """A field value computed when the record is written (see :func:`lazy`)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        global used
        if not callable(fn) or isinstance(fn, Lazy):
            raise ConfigError("lazy", fn, "a callable taking no arguments")
        self.fn = fn
        used = True

    def evaluate(self) -> Any:
        """``fn()``, or a marked text when it raises."""
        try:
            return self.fn()
        except BaseException as exc:
            if not swallowable(exc):
                raise
            return f"<lazy value raised {type(exc).__name__}: {safe_str(exc)}>"

    def __repr__(self) -> str:
        # never evaluates: whatever looks at a record before it is written
        # (masking, a processor, a test) sees this text, not the value
        return f"micktrace.lazy({safe_repr(self.fn, 200)})"

    __str__ = __repr__


def lazy(fn: Callable[[], Any]) -> Lazy:
    """Mark *fn* (a callable taking no arguments) as a lazy field value:
    ``log.debug("state", snapshot=micktrace.lazy(expensive_dump))``."""
    return Lazy(fn)


def _resolved(values: Dict[str, Any]) -> Dict[str, Any]:
    return {key: value.evaluate() if type(value) is Lazy else value for key, value in values.items()}


def _has_lazy(values: Dict[str, Any]) -> bool:
    return bool(values) and Lazy in map(type, values.values())


def resolve(record: LogRecord) -> bool:
    """Replace the lazy values of *record*'s fields, context and static fields by
    their results.

    New dicts are assigned (the context snapshot, a logger's bound fields and
    the static fields are shared with other records); a record without lazy
    values is left as it is. True when something was replaced.
    """
    if not (_has_lazy(record.data) or _has_lazy(record.context) or _has_lazy(record.static)):
        return False
    locked = _lock.acquire(timeout=_LOCK_TIMEOUT)
    try:  # another thread may have resolved them meanwhile: look again
        if _has_lazy(record.data):
            record.data = _resolved(record.data)
        if _has_lazy(record.context):
            record.context = _resolved(record.context)
        if _has_lazy(record.static):
            record.static = _resolved(record.static)
    finally:
        if locked:
            _lock.release()
    return True


def evaluated(values: Dict[str, Any], names: Any) -> None:
    """Replace the lazy values of *values* named in *names* by their results, in place
    (a message's placeholders: the message is built at the call)."""
    for name in names:
        value = values.get(name)
        if type(value) is Lazy:
            values[name] = value.evaluate()
