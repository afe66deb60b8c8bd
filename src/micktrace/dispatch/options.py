"""Validated background-dispatch settings: :class:`DispatchOptions` and
:func:`parse_dispatch` (``configure(dispatch=...)`` and a handler spec's ``"dispatch"``).

May import: errors, levels.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from ..errors import ConfigError, check_number
from ..levels import to_level

OVERFLOW_POLICIES = ("block", "drop_newest", "drop_oldest", "drop_below")
DISPATCH_MODES = ("sync", "background")


class DispatchOptions:
    """Validated background-dispatch settings (see ``configure(dispatch=...)``)."""

    __slots__ = (
        "backoff",
        "batch_size",
        "block_timeout",
        "breaker_cooldown",
        "breaker_threshold",
        "drop_below",
        "exit_timeout",
        "max_backoff",
        "mode",
        "overflow",
        "queue_size",
        "retries",
        "timeout",
    )

    def __init__(
        self,
        mode: Optional[str] = None,
        queue_size: int = 10_000,
        overflow: str = "block",
        drop_below: Any = "WARNING",
        block_timeout: float = 1.0,
        batch_size: int = 1_000,
        retries: int = 3,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        exit_timeout: float = 5.0,
        timeout: Optional[float] = None,
    ) -> None:
        self.mode = mode
        self.queue_size = queue_size
        self.overflow = overflow
        self.drop_below = drop_below
        self.block_timeout = block_timeout
        self.batch_size = batch_size
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown = breaker_cooldown
        self.exit_timeout = exit_timeout
        #: sync mode: the longest a log call waits for the handler (None: no limit)
        self.timeout = timeout

    def as_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def parse_dispatch(value: Any, key: str, base: Optional[DispatchOptions] = None) -> DispatchOptions:
    """``"sync"``, ``"background"`` or a dict of :class:`DispatchOptions` fields."""
    options = dict(base.as_dict()) if base is not None else {}
    mode_key = key
    if isinstance(value, str):
        value = {"mode": value}
    else:
        mode_key = f"{key}.mode"
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, "'sync', 'background' or a dict of dispatch options")
    allowed = DispatchOptions.__slots__
    for name, item in value.items():
        if name not in allowed:
            raise ConfigError(f"{key}.{name}", item, "the dispatch options " + ", ".join(allowed))
        options[name] = item
    opts = DispatchOptions(**options)
    if opts.mode is not None and opts.mode not in DISPATCH_MODES:
        raise ConfigError(mode_key, opts.mode, ", ".join(DISPATCH_MODES))
    if opts.overflow not in OVERFLOW_POLICIES:
        raise ConfigError(f"{key}.overflow", opts.overflow, ", ".join(OVERFLOW_POLICIES))
    opts.drop_below = to_level(opts.drop_below, f"{key}.drop_below")
    for name in ("queue_size", "batch_size"):
        check_number(f"{key}.{name}", getattr(opts, name), 1, integer=True)
    for name in ("retries", "breaker_threshold"):
        check_number(f"{key}.{name}", getattr(opts, name), 0, integer=True)
    for name in ("block_timeout", "backoff", "max_backoff", "breaker_cooldown", "exit_timeout"):
        check_number(f"{key}.{name}", getattr(opts, name), 0, unit=" seconds")
    if opts.timeout is not None:
        check_number(f"{key}.timeout", opts.timeout, 0.001, unit=" seconds (or None: no limit)")
    return opts


