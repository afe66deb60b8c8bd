"""The formatter base class, the escaping every text format shares, and
:func:`resolve_lazy` (lazy values computed and masked before a record is written).

May import: _state, lazy_values, serialize, masking.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .. import _state, lazy_values
from ..serialize import dumps, safe_str

if TYPE_CHECKING:
    from ..record import LogRecord


def resolve_lazy(record: LogRecord) -> None:
    """Compute the ``micktrace.lazy`` values of *record* (once per record: see
    :mod:`micktrace.lazy_values`) and mask their results as the configuration's
    masking would have, had they been there when it ran. Every formatter, and
    every handler that encodes records itself, calls this before writing."""
    if not lazy_values.resolve(record):
        return
    cfg = _state.config
    if cfg is None:
        return
    from ..masking import Masker

    for processor in cfg.processors:
        if isinstance(processor, Masker):
            masked = processor(record)
            if masked is not record:
                record.data, record.context, record.static = masked.data, masked.context, masked.static
            return


class Formatter:
    """Turns a record into one line of text (without the trailing newline).

    Subclass it and override :meth:`format`; pass an instance as a handler's
    ``formatter``. A formatter that raises is reported once on stderr and the
    record is written with the default text formatter instead.
    """

    def format(self, record: LogRecord) -> str:
        raise NotImplementedError

    def __call__(self, record: LogRecord) -> str:
        return self.format(record)


#: Keys the record itself writes in JSON and logfmt; a field with one of these
#: names is written as ``fields.<name>`` (or ``context.<name>``) instead.
RESERVED_KEYS = frozenset(("timestamp", "level", "logger", "message", "exception", "stack", "caller"))

# C0 and C1 controls, DEL and the Unicode line/paragraph separators: anything a
# terminal or a line-oriented log reader could take as a line break or an escape;
# and lone surrogates, which no UTF-8 stream can write.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# (and the bidi embedding/override/isolate controls, which make a
# terminal show text in another order than it was written)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """Escape control characters so *text* stays on one line and cannot drive a terminal."""
    if text.isprintable():  # the common case, checked in C
        return text
    return _UNSAFE.sub(_escape_char, text)


def to_text(value: Any) -> str:
    """A field value as text for the text and logfmt formats."""
    vtype = type(value)
    if vtype is str:
        return value  # type: ignore[no-any-return]
    if vtype is bool or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if vtype is int or vtype is float:
        return repr(value)
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return dumps(value)
    return safe_str(value)
