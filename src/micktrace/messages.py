"""A log call's message: ``%``-style (stdlib) or ``{}``-style (loguru) formatting.

:func:`format_message` is what the logger runs when a call passes positional
arguments, or fields and a message holding ``{``. The rules (docs/formatting.md):

* positional args and a ``%`` conversion in the message (``%s``, ``%(name)d``):
  ``msg % args`` as the stdlib does, even when the message also holds ``{}``;
* positional args, braces and no ``%`` conversion: ``msg.format(*args, **fields)``;
  every argument must be used and every placeholder filled;
* no positional args: ``msg.format(**fields)`` when every placeholder names one
  of the call's own fields (keywords and ``extra=``), else the message as written
  (``"{}"``, a JSON snippet, an unknown name stay as they are);
* a message is only ever formatted when the call passes args or fields, so
  ``{{`` becomes ``{`` then, and stays ``{{`` in a call with neither;
* anything that fails (bad spec, a value whose ``__format__`` raises, too few or
  too many args) keeps the message as written with the args appended: never raises.

Placeholders reaching into dunder attributes (``{0.__class__}``), nested specs
(``{:{width}}``) and widths or precisions over 999 are not formatted either.
The fields stay fields: formatting copies their values into the message. A
``micktrace.lazy`` value used in the message is computed here, at the call,
once: the field then holds its result.

May import: serialize, lazy_values.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, FrozenSet, Mapping, Optional, Pattern, Tuple

from . import lazy_values
from .serialize import defuse, safe_repr, safe_str, swallowable

# a %-conversion as the % operator reads it, without the ' ' flag, so that the
# "{}% done" of a brace message is not taken for "% d" ("%%" is removed first)
_PERCENT_SOURCE = r"%(?:\([^)]*\))?[-#0+]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]"
# compiled on first use, not at import (import micktrace stays cheap)
_patterns: Dict[str, Pattern[str]] = {}


def _pattern(source: str) -> Pattern[str]:
    compiled = _patterns.get(source)
    if compiled is None:
        compiled = _patterns[source] = re.compile(source)
    return compiled


def _formatter_parser() -> Callable[[str], Any]:
    """The parser str.format itself uses: string.Formatter().parse, without importing
    ``string`` (its Template class compiles a pattern at import)."""
    try:
        import _string  # type: ignore[import-not-found]

        parser: Callable[[str], Any] = _string.formatter_parser
        return parser
    except ImportError:  # an interpreter without CPython's _string
        import string

        return string.Formatter().parse


formatter_parser = _formatter_parser()

Shape = Tuple[int, int, FrozenSet[str]]
_NOT_A_TEMPLATE: Shape = (-1, -1, frozenset())
_shapes: Dict[str, Shape] = {}


def _shape(msg: str) -> Shape:
    """What the brace placeholders of *msg* need (cached: messages are literals)."""
    shape = _shapes.get(msg)
    if shape is not None:
        return shape
    auto = explicit = 0
    names = set()
    try:
        for _literal, field, spec, _conversion in formatter_parser(msg):
            if field is None:
                continue
            if "__" in field or (spec and ("{" in spec or _pattern(r"\d{4}").search(spec))):
                raise ValueError(field)
            head = re.split(r"[.\[]", field, maxsplit=1)[0]
            if head == "":
                auto += 1
            elif head.isdigit():
                explicit = max(explicit, int(head) + 1)
            else:
                names.add(head)
        shape = (auto, explicit, frozenset(names))
        if auto and explicit:  # str.format refuses to mix the two
            shape = _NOT_A_TEMPLATE
    except ValueError:  # "{" left open, a lone "}", or refused above
        shape = _NOT_A_TEMPLATE
    if len(_shapes) < 4096:
        _shapes[msg] = shape
    return shape


def has_percent(msg: str) -> bool:
    """True when *msg* holds a %-conversion (``%s``, ``%(name)d``; not ``%%``)."""
    if "%" not in msg:
        return False
    return _pattern(_PERCENT_SOURCE).search(msg.replace("%%", "")) is not None


def _appended(msg: str, args: Tuple[Any, ...]) -> str:
    """The message as written with the args shown after it (a format that failed);
    an int too long for str() is shown marked."""
    return f"{msg} {safe_repr(defuse(args))}"


def _percent(msg: str, args: Tuple[Any, ...], view: Optional[Callable[[Mapping[Any, Any]], Any]] = None) -> str:
    try:
        if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            # stdlib's "%(name)s" form, through *view* (masking's) when given
            return msg % (view(args[0]) if view is not None else args[0])
        return msg % args
    except BaseException as exc:  # a value's __str__ may raise anything
        if not swallowable(exc):
            raise
        return _appended(msg, args)


def _braces(msg: str, args: Tuple[Any, ...], named: Mapping[str, Any]) -> Optional[str]:
    """``msg.format(*args, **named)`` when the placeholders match exactly, else None."""
    auto, explicit, names = _shape(msg)
    if auto < 0 or max(auto, explicit) != len(args) or not names <= named.keys():
        return None
    if lazy_values.used and names and isinstance(named, dict):
        lazy_values.evaluated(named, names)  # the field keeps the value the message shows
    try:
        return msg.format(*args, **named)
    except BaseException as exc:  # a spec that does not fit, or a hostile __format__
        if not swallowable(exc):
            raise
        return None


def format_message(
    msg: Any,
    args: Tuple[Any, ...],
    named: Optional[Mapping[str, Any]] = None,
    mapping_view: Optional[Callable[[Mapping[Any, Any]], Any]] = None,
) -> str:
    """The message of a call: *msg* formatted with *args* and the call's fields *named*;
    a ``"%(name)s"`` mapping argument is read through *mapping_view* when given."""
    if type(msg) is not str:
        msg = safe_str(msg)
    if args:
        if lazy_values.used:
            args = tuple(arg.evaluate() if type(arg) is lazy_values.Lazy else arg for arg in args)
        if "{" not in msg or has_percent(msg):
            return _percent(msg, args, mapping_view)
        text = _braces(msg, args, named or {})
        return text if text is not None else _appended(msg, args)
    if named and "{" in msg:
        text = _braces(msg, (), named)
        if text is not None:
            return text
    return msg  # type: ignore[no-any-return]
