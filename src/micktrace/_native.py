"""The optional compiled speedup (micktrace._speedups) and the switch that turns it off.

``encode_record``, ``init_records`` and ``make_record`` are the functions of
:mod:`micktrace._speedups` when the extension was built and ``MICKTRACE_NO_SPEEDUPS``
is unset, empty or ``"0"``; otherwise they are None and callers use the pure-Python
path. The variable is read once, at import.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

if TYPE_CHECKING:
    from contextvars import ContextVar

    from .record import LogRecord

ENV_NO_SPEEDUPS = "MICKTRACE_NO_SPEEDUPS"


def _disabled() -> bool:
    flag = os.environ.get(ENV_NO_SPEEDUPS, "")
    return flag != "" and flag != "0"


def _module() -> Optional[ModuleType]:
    if _disabled():
        return None
    try:
        from . import _speedups
    except ImportError:  # not built (no compiler, or a pure-Python install)
        return None
    return _speedups


_speedups_module = _module()


def _function(name: str) -> Any:
    # getattr: a stale build of the extension may lack the newer functions
    return getattr(_speedups_module, name, None) if _speedups_module is not None else None


#: The C encoder, or None when unavailable or disabled. See micktrace/_speedups_src/ (module.c and its parts):
#: ``encode_record(time_ns, level, logger, message, static, context, data, reserved)``
#: returns the JSON line as bytes, or None when the record needs the Python path.
encode_record: Optional[Callable[..., Optional[bytes]]] = _function("encode_record")

#: ``init_records(record_type, context_var)``: call once before ``make_record``
#: (TypeError when the class lacks the LogRecord slots); None when unavailable or disabled.
init_records: Optional[Callable[[type[LogRecord], ContextVar[Dict[str, Any]]], None]] = _function("init_records")

#: ``make_record(level, logger_name, message, fields, bound, static, process_id)``:
#: the LogRecord of a log call, built in C exactly as ``object.__new__(LogRecord)``
#: plus slot assignments (data = ``{**bound, **fields}``, or *fields* itself when
#: nothing is bound; time_ns = time.time_ns(), context = the ContextVar's value,
#: thread_id = threading.get_ident(), caller/exception slots None; ``_exception``
#: unset), and not tracked by the cycle collector. None (no record) when *fields*
#: holds one of the stdlib keywords exc_info, extra, stack_info or stacklevel.
#: RuntimeError before ``init_records``. None when unavailable or disabled.
make_record: Optional[
    Callable[[Any, str, str, Dict[str, Any], Dict[str, Any], Dict[str, Any], int], Optional[LogRecord]]
] = _function("make_record")

#: ``fields_clean(data, clean)``: True if every (key, value) pair of *data* is in
#: *clean* (key -> set of values found clean); the masking processor's check that
#: a record has nothing to mask. None when unavailable or disabled.
fields_clean: Optional[Callable[[Dict[Any, Any], Dict[Any, Any]], bool]] = _function("fields_clean")

#: ``clean_records(records, clean_values, clean_strings, min_text, ctx_known, ctx_size,
#: static_known, static_size)``: the indexes of the records of a batch that the masking
#: processor must look at (see Masker.mask_batch). None when unavailable or disabled.
clean_records: Optional[Callable[..., List[int]]] = _function("clean_records")

#: ``unknown_keys(data, clean)``: the keys of *data* whose (key, value) pair is not in
#: *clean* (key -> set of values found clean), in order. None when unavailable or disabled.
unknown_keys: Optional[Callable[[Dict[Any, Any], Dict[Any, Any]], List[Any]]] = _function("unknown_keys")

#: ``scan_fields(data, clean_values, kinds, clean_strings, min_text, cache_limit,
#: cache_max_len)``: None when every field of *data* is known clean, else the keys the
#: masking processor must look at in Python (see Masker._dict). None when unavailable.
scan_fields: Optional[Callable[..., Optional[List[Any]]]] = _function("scan_fields")

#: ``encode_records(records, reserved, level_names, fallback)``: the JSON lines of a
#: list of records, each with its newline, as one bytes object (``fallback(record)``
#: writes those encode_record does not cover). None when unavailable or disabled.
encode_records: Optional[Callable[..., bytes]] = _function("encode_records")


_records_ready = False


def setup_records(record_type: type[LogRecord], context_var: ContextVar[Dict[str, Any]]) -> bool:
    """Tell the compiled speedup the LogRecord layout (``init_records``), once.

    True when ``make_record`` and ``clean_records`` may be used: the logger's
    generated methods, the masking batch check and the JSON batch encoder read
    :func:`records_ready` to know.
    """
    global _records_ready
    if make_record is None or init_records is None:
        return False
    try:
        init_records(record_type, context_var)
    except Exception:  # a build that does not match this LogRecord: use Python
        return False
    _records_ready = True
    return True


def records_ready() -> bool:
    """True once :func:`setup_records` succeeded."""
    return _records_ready


def available() -> bool:
    """True when the compiled encoder is loaded and enabled."""
    return encode_record is not None
