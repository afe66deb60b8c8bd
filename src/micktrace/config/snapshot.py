"""One immutable configuration snapshot: :class:`Config`.

Built by ``configure()``; swapped in whole through ``micktrace._state.install``.
It holds the levels, handlers, processors, static fields and the dispatcher,
and the pipeline a log call runs (composed once, see :mod:`micktrace.pipeline`).

May import: levels, pipeline, dispatch, handlers.base.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from ..dispatch import Dispatcher
from ..handlers.base import Handler
from ..levels import OFF
from ..pipeline import Processor, compose


class Config:
    """One immutable configuration snapshot. Built by :func:`configure`."""

    __slots__ = (
        "caller",
        "disabled",
        "dispatcher",
        "emit",
        "format",
        "handlers",
        "level",
        "logger_levels",
        "pipeline",
        "processors",
        "settings",
        "static",
    )

    def __init__(
        self,
        level: int,
        logger_levels: Dict[str, int],
        disabled: frozenset[str],
        handlers: Tuple[Handler, ...],
        static: Dict[str, Any],
        caller: bool,
        processors: Tuple[Processor, ...],
        format: str,
        settings: Dict[str, Any],
        dispatcher: Dispatcher,
    ) -> None:
        self.level = level
        self.logger_levels = logger_levels
        self.disabled = disabled
        self.handlers = handlers
        self.static = static
        self.caller = caller
        self.processors = processors
        self.format = format
        self.settings = settings
        self.dispatcher = dispatcher
        #: hand a record that went through every processor to every handler
        #: whose level it reaches: sync handlers run here, background ones get
        #: it queued (see micktrace.dispatch)
        self.emit = dispatcher.emit_masked
        #: the processors, then emit: what a log call runs when no capture_logs()
        #: is active (one call, no loop, for the usual one or two processors).
        #: When the background worker masks (dispatcher.masks_in_worker), the
        #: masking processor (always the first) is left to it.
        caller_side = processors[1:] if dispatcher.masks_in_worker else processors
        self.pipeline = dispatcher.fused_pipeline(caller_side) or compose(caller_side, dispatcher.emit)

    def level_for(self, name: str) -> int:
        """The effective level of logger *name*: disabled > per-prefix level > global."""
        if "" in self.disabled:
            return OFF
        candidates = [name]
        while "." in name:
            name = name.rsplit(".", 1)[0]
            candidates.append(name)
        for candidate in candidates:
            if candidate in self.disabled:
                return OFF
        for candidate in candidates:
            level = self.logger_levels.get(candidate)
            if level is not None:
                return level
        return self.level

