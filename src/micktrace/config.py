"""``configure()``: validate settings, build one immutable snapshot, swap it in.

Settings accumulate: each ``configure()`` call changes only the keys it names
(``configure(level="DEBUG")`` keeps the handlers and format), unless
``reset=True``. For every key the effective value is, in order: the explicit
argument (from this or an earlier call), the environment variable, the default.
The new :class:`Config` is built completely (handlers opened) before it replaces
the old one, so a bad configuration raises :class:`ConfigError` and leaves the
running one untouched; then every existing logger is rebound at once.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _state
from ._report import report
from .dispatch import Dispatcher, DispatchOptions, parse_dispatch
from .errors import ConfigError
from .filters import build_filter
from .formatters import FORMAT_NAMES, Formatter, formatter_for
from .handlers.base import CallableHandler, Handler, ObjectHandler
from .handlers.console import ConsoleHandler, RichConsoleHandler
from .handlers.file import FileHandler
from .handlers.memory import MemoryHandler, NullHandler
from .handlers.network import NETWORK_HANDLER_TYPES, network_handler_class
from .handlers.stdlib_forward import DefaultConsoleHandler, StdlibForwardHandler
from .levels import OFF, LevelLike, LogLevel, to_level
from .pipeline import Processor, compose

if TYPE_CHECKING:
    pass

HANDLER_TYPES: Dict[str, type] = {
    "console": ConsoleHandler,
    "stream": ConsoleHandler,
    "file": FileHandler,
    "memory": MemoryHandler,
    "null": NullHandler,
    "rich_console": RichConsoleHandler,
    "rich": RichConsoleHandler,
    "stdlib": StdlibForwardHandler,  # issue 6: records into the stdlib logging tree
}
#: handler types the spec names whose backends are not built yet
PLANNED_HANDLER_TYPES = {
    "cloudwatch": "aws",
    "azure": "azure",
    "stackdriver": "gcp",
    "gcp": "gcp",
    "datadog": "datadog",
    "newrelic": "newrelic",
    "elasticsearch": "elastic",
}
#: keys every handler spec may carry besides its type's own options
COMMON_HANDLER_KEYS = ("type", "config", "level", "format", "formatter", "filters", "name", "dispatch")

ENV_LEVEL = "MICKTRACE_LEVEL"
ENV_FORMAT = "MICKTRACE_FORMAT"
ENV_SERVICE = "MICKTRACE_SERVICE"
ENV_ENVIRONMENT = "MICKTRACE_ENVIRONMENT"
ENV_VERSION = "MICKTRACE_VERSION"

DEFAULT_LEVEL = int(LogLevel.INFO)
DEFAULT_FORMAT = "text"

_warned_env: set[Tuple[str, str]] = set()


def _env(name: str, parse: Callable[[str], Any]) -> Any:
    """The parsed value of environment variable *name*, or None; a bad value
    warns once on stderr and is ignored."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse(raw)
    except ConfigError as exc:
        if (name, raw) not in _warned_env:
            _warned_env.add((name, raw))
            try:
                sys.stderr.write(f"micktrace: ignoring environment variable {name}={raw!r}; allowed: {exc.allowed}\n")
            except Exception:
                pass
        return None


def _parse_format(raw: str, key: str = "format") -> str:
    name = raw.strip().lower() if isinstance(raw, str) else raw
    if name not in FORMAT_NAMES:
        raise ConfigError(key, raw, ", ".join(FORMAT_NAMES))
    return name


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

# ---------------------------------------------------------------------------
# building handlers


def previous_handlers(previous: Optional[Config]) -> Tuple[Handler, ...]:
    return previous.handlers if previous is not None else ()


def _required_options(cls: type) -> List[str]:
    import inspect

    init = cls.__dict__.get("__init__") or cls.__init__  # type: ignore[misc]
    return [
        p.name
        for p in inspect.signature(init).parameters.values()
        if p.name != "self" and p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _accepted_options(cls: type) -> List[str]:
    import inspect

    names: List[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.name != "self" and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                if param.name not in names:
                    names.append(param.name)
    return names


def build_handler(spec: Any, index: int, default_format: str) -> Handler:
    """A handler from one entry of ``handlers=[...]``."""
    key = f"handlers[{index}]"
    if isinstance(spec, Handler):
        return spec
    if isinstance(spec, Mapping):
        return _handler_from_dict(dict(spec), key, default_format)
    if hasattr(spec, "handle") and callable(spec.handle):
        return ObjectHandler(spec)
    if callable(spec):
        return CallableHandler(spec)
    raise ConfigError(key, spec, "a dict with 'type', a Handler, an object with handle(record), or a callable")


def _handler_from_dict(spec: Dict[str, Any], key: str, default_format: str) -> Handler:
    htype = spec.get("type")
    known = ", ".join(sorted([*HANDLER_TYPES, *NETWORK_HANDLER_TYPES]))
    if htype in PLANNED_HANDLER_TYPES and htype not in NETWORK_HANDLER_TYPES:
        raise ConfigError(
            f"{key}.type",
            htype,
            f"{known} (the {htype!r} handler is not available yet in this "
            f"version; it will come with the '{PLANNED_HANDLER_TYPES[htype]}' extra)",
        )
    cls = HANDLER_TYPES.get(htype) if isinstance(htype, str) else None
    if cls is None and isinstance(htype, str) and htype in NETWORK_HANDLER_TYPES:
        cls = network_handler_class(htype)
    if cls is None:
        raise ConfigError(f"{key}.type", htype, known)
    options: Dict[str, Any] = {}
    nested = spec.get("config", {})
    if not isinstance(nested, Mapping):
        raise ConfigError(f"{key}.config", nested, "a dict of handler options")
    options.update(nested)
    options.update({k: v for k, v in spec.items() if k not in COMMON_HANDLER_KEYS})
    allowed = [n for n in _accepted_options(cls) if n not in ("formatter", "filters", "level", "name")]
    for name in options:
        if name not in allowed:
            from .masking import is_sensitive_key

            shown = "[REDACTED]" if is_sensitive_key(str(name)) else options[name]
            raise ConfigError(f"{key}.{name}", shown, f"the options of a {htype!r} handler: {', '.join(allowed)}")

    common: Dict[str, Any] = {}
    if "level" in spec:
        common["level"] = to_level(spec["level"], f"{key}.level")
    if spec.get("name") is not None:
        common["name"] = str(spec["name"])
    if "filters" in spec:
        filters = spec["filters"]
        if not isinstance(filters, (list, tuple)):
            raise ConfigError(f"{key}.filters", filters, "a list of filter dicts or callables")
        common["filters"] = [build_filter(f, f"{key}.filters[{i}]") for i, f in enumerate(filters)]
    formatter = spec.get("formatter")
    fmt = spec.get("format")
    if formatter is not None:
        if not (isinstance(formatter, Formatter) or callable(formatter)):
            raise ConfigError(f"{key}.formatter", formatter, "a Formatter instance or a callable record -> str")
        common["formatter"] = formatter
    elif getattr(cls, "encodes_itself", False) and fmt is None:
        pass  # a network handler writes its backend's format, not the global one
    elif cls is not RichConsoleHandler or fmt not in (None, "rich", "text"):
        name = _parse_format(fmt, f"{key}.format") if fmt is not None else default_format
        if name == "rich" and cls is ConsoleHandler:
            cls = RichConsoleHandler
        elif name != "text" or cls is not ConsoleHandler:
            common["formatter"] = formatter_for(name, f"{key}.format")
    for name in _required_options(cls):
        if name not in options:
            raise ConfigError(f"{key}.{name}", None, f"a value: a {htype!r} handler needs {name!r}")
    dispatch_spec = spec.get("dispatch")
    if dispatch_spec is not None:
        parse_dispatch(dispatch_spec, f"{key}.dispatch")  # validate now, merge with the global options later
    try:
        handler: Handler = cls(**options, **common)
        if dispatch_spec is not None:
            handler.dispatch_spec = (dispatch_spec, f"{key}.dispatch")
        return handler
    except ConfigError as exc:
        raise ConfigError(f"{key}.{exc.key}", exc.value, exc.allowed) from None
    except OSError as exc:
        raise ConfigError(f"{key}.path", options.get("path"), f"a path that can be opened ({exc.strerror})") from None


# ---------------------------------------------------------------------------
# configure()

_KNOWN_KEYS = (
    "level",
    "format",
    "service",
    "version",
    "environment",
    "handlers",
    "loggers",
    "fields",
    "caller",
    "processors",
    "dispatch",
    "fallback",
    "capture_stdlib",
    "masking",  # issue 5
    "reset",
)
_HANDLER_KEYS = ("handlers", "format", "dispatch")


def _effective(settings: Dict[str, Any]) -> Tuple[int, str, Dict[str, Any]]:
    level = settings.get("level")
    if level is None:
        level = _env(ENV_LEVEL, lambda raw: to_level(raw, ENV_LEVEL))
    if level is None:
        level = DEFAULT_LEVEL
    fmt = settings.get("format")
    if fmt is None:
        fmt = _env(ENV_FORMAT, lambda raw: _parse_format(raw, ENV_FORMAT))
    if fmt is None:
        fmt = DEFAULT_FORMAT
    static: Dict[str, Any] = {}
    for name, env in (("service", ENV_SERVICE), ("version", ENV_VERSION), ("environment", ENV_ENVIRONMENT)):
        value = settings.get(name)
        if value is None:
            value = os.environ.get(env) or None
        if value is not None:
            static[name] = value
    static.update(settings.get("fields") or {})
    return level, fmt, static


def _build(settings: Dict[str, Any], previous: Optional[Config], rebuild_handlers: bool) -> Config:
    level, fmt, static = _effective(settings)
    specs = settings.get("handlers")
    if previous is not None and not rebuild_handlers and previous.format == fmt:
        handlers = previous.handlers
    elif specs is None:
        # -- issue 6: with no handlers and no format chosen, the default handler
        # forwards to stdlib when the application configured stdlib logging
        # (decided per record: docs/stdlib.md, "Out of micktrace")
        if settings.get("format") is None and not (os.environ.get(ENV_FORMAT) or "").strip():
            handlers = (DefaultConsoleHandler(),)
        # -- end issue 6
        else:
            default = {"type": "rich_console" if fmt == "rich" else "console"}
            handlers = (build_handler(default, 0, fmt),)
    else:
        built: List[Handler] = []
        try:
            for i, spec in enumerate(specs):
                built.append(build_handler(spec, i, fmt))
        except BaseException:
            # the configuration is rejected: release what was already opened
            # (handler objects passed in by the caller are theirs to close)
            given = {id(spec) for spec in specs}
            for handler in built:
                if id(handler) not in given and id(handler) not in {id(h) for h in previous_handlers(previous)}:
                    try:
                        handler.close()
                    except Exception:
                        pass
            raise
        handlers = tuple(built)
    caller = bool(settings.get("caller")) or any(h.needs_caller for h in handlers)
    processors: List[Processor] = list(settings.get("processors") or ())
    # -- issue 6: trace ids of the active OpenTelemetry span, first (integrations/otel.py)
    from .integrations.otel import trace_processor

    otel = trace_processor()
    if otel is not None:
        processors.insert(0, otel)
    # -- end issue 6
    # -- issue 5: masking runs first, so no other processor or handler sees a secret
    from .masking import build_masker

    masker = build_masker(settings.get("masking"))
    if masker is not None:
        processors.insert(0, masker)
    # -- end issue 5
    global_dispatch: DispatchOptions = settings.get("dispatch") or DispatchOptions()
    modes: List[str] = []
    options: List[DispatchOptions] = []
    for handler in handlers:
        own = getattr(handler, "dispatch_spec", None)
        opts = parse_dispatch(own[0], own[1], global_dispatch) if own is not None else global_dispatch
        modes.append(opts.mode or global_dispatch.mode or handler.default_dispatch)
        options.append(opts)
    # issue 4: with one background handler and no processor of the user's after
    # masking, the worker masks (the caller is spared ~0.6 us per record)
    deferrable = masker if masker is not None and not settings.get("processors") else None
    dispatcher = Dispatcher(
        handlers, modes, options, previous.dispatcher if previous is not None else None, deferrable
    )
    return Config(
        level=level,
        logger_levels=dict(settings.get("loggers") or {}),
        disabled=frozenset(settings.get("disabled") or ()),
        handlers=handlers,
        static=static,
        caller=caller,
        processors=tuple(processors),
        format=fmt,
        settings=settings,
        dispatcher=dispatcher,
    )


def _validate(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    clean: Dict[str, Any] = {}
    for key, value in kwargs.items():
        if key not in _KNOWN_KEYS:
            raise ConfigError("configure", key, "the keywords " + ", ".join(_KNOWN_KEYS))
        if value is None or key == "reset":
            continue
        if key == "level":
            value = to_level(value, "level")
        elif key == "format":
            value = _parse_format(value)
        elif key in ("service", "version", "environment"):
            value = str(value)
        elif key == "handlers":
            if not isinstance(value, (list, tuple)):
                raise ConfigError("handlers", value, "a list of handler specs")
            value = list(value)
        elif key == "loggers":
            if not isinstance(value, Mapping):
                raise ConfigError(
                    "loggers", value, 'a dict of logger-name prefix -> level, e.g. {"urllib3": "WARNING"}'
                )
            value = {str(name): to_level(lvl, f"loggers[{name!r}]") for name, lvl in value.items()}
        elif key == "fields":
            if not isinstance(value, Mapping):
                raise ConfigError("fields", value, "a dict of fields added to every record")
            value = dict(value)
        elif key == "processors":
            if not isinstance(value, (list, tuple)) or not all(callable(p) for p in value):
                raise ConfigError("processors", value, "a list of callables record -> record or None")
            value = list(value)
        elif key == "caller":
            value = bool(value)
        elif key == "dispatch":
            value = parse_dispatch(value, "dispatch")
        elif key == "fallback":
            value = build_handler(value, 0, "text") if not isinstance(value, Handler) else value
        elif key == "masking":  # issue 5
            from .masking import parse_masking

            value = parse_masking(value)
        elif key == "capture_stdlib":
            if not isinstance(value, bool):
                raise ConfigError("capture_stdlib", value, "True or False")
        clean[key] = value
    return clean


def configure(
    level: Optional[LevelLike] = None,
    format: Optional[str] = None,
    service: Optional[str] = None,
    version: Optional[str] = None,
    environment: Optional[str] = None,
    handlers: Optional[Sequence[Any]] = None,
    loggers: Optional[Mapping[str, LevelLike]] = None,
    fields: Optional[Mapping[str, Any]] = None,
    caller: Optional[bool] = None,
    processors: Optional[Sequence[Processor]] = None,
    dispatch: Optional[Any] = None,
    fallback: Optional[Any] = None,
    capture_stdlib: Optional[bool] = None,
    masking: Union[bool, Mapping[str, Any], None] = None,
    reset: bool = False,
    **unknown: Any,
) -> Config:
    """Configure micktrace for this process; callable again at any time.

    Args:
        level: the least severe level emitted (name or number). Env: ``MICKTRACE_LEVEL``.
        format: ``"text"``, ``"json"``, ``"logfmt"``, ``"structured"`` (= json) or
            ``"rich"``, for handlers that do not set their own. Env: ``MICKTRACE_FORMAT``.
        service, version, environment: added to every record. Env:
            ``MICKTRACE_SERVICE``, ``MICKTRACE_VERSION``, ``MICKTRACE_ENVIRONMENT``.
        handlers: handler specs: ``{"type": "file", "config": {"path": "app.log"}}``
            (options may also be given flat), Handler instances, objects with
            ``handle(record)``, or callables taking a record.
        loggers: per logger-name prefix levels, ``{"urllib3": "WARNING"}``.
        fields: more fields added to every record.
        caller: record the caller's file, line and function (costs ~0.3 µs a call).
        processors: callables ``record -> record | None`` run on every record
            before the handlers (None drops the record).
        dispatch: ``"sync"`` (handlers run in the calling thread), ``"background"``
            (a worker thread per handler writes in batches), or a dict of options
            (``mode``, ``queue_size``, ``overflow``, ``block_timeout``, ``batch_size``,
            ``retries``, ...; see docs/dispatch.md). Unset, each handler type uses its
            own default: console in the caller, file and network in the background.
            A handler spec may carry its own ``"dispatch"``.
        fallback: the handler that receives records another handler failed to
            deliver (default: stderr, text format).
        capture_stdlib: True routes every stdlib ``logging`` record into micktrace
            (as :func:`micktrace.intercept_stdlib` does, its root level following
            this configuration); False undoes it. ``reset=True`` also undoes a
            capture made by ``configure``. See docs/stdlib.md.
        masking: secrets and personal data masked before any handler sees a
            record: on by default; False switches it off; a dict configures it
            (``keys``, ``allow_keys``, ``patterns``, ``disable``, ``styles``,
            ``style``, ``replacement``, ``salt``, ``max_depth``). See docs/masking.md.
        reset: forget the settings of earlier calls first.

    Returns the new :class:`Config`. Raises :class:`ConfigError` for any invalid
    value, leaving the previous configuration in place.
    """
    if unknown:
        name = next(iter(unknown))
        raise ConfigError("configure", name, "the keywords " + ", ".join(_KNOWN_KEYS))
    given = _validate(
        {
            "level": level,
            "format": format,
            "service": service,
            "version": version,
            "environment": environment,
            "handlers": handlers,
            "loggers": loggers,
            "fields": fields,
            "caller": caller,
            "processors": processors,
            "dispatch": dispatch,
            "fallback": fallback,
            "capture_stdlib": capture_stdlib,
            "masking": masking,
        }
    )
    with _state.lock:
        previous = _state.config
        base = {} if reset or previous is None else dict(previous.settings)
        if not reset and previous is not None and "disabled" in previous.settings:
            base["disabled"] = previous.settings["disabled"]
        base.update(given)
        rebuild = reset or previous is None or any(k in given for k in _HANDLER_KEYS)
        new = _build(base, previous, rebuild)
        _swap(new, previous)
    # -- issue 6: outside the lock, since it takes stdlib logging's lock
    if capture_stdlib is not None or "micktrace.stdlib_capture" in sys.modules:
        from .stdlib_capture import apply_capture_setting  # loads logging: only when asked

        apply_capture_setting(new, capture_stdlib, reset)
    # -- end issue 6
    return new


def _swap(new: Config, previous: Optional[Config]) -> None:
    _state.install(new)  # every logger follows (the logger layer listens)
    if previous is None:
        return
    # workers the new configuration does not reuse: deliver what they hold, then stop
    kept_workers = {id(w) for w in new.dispatcher.workers}
    for worker in previous.dispatcher.workers:
        if id(worker) not in kept_workers:
            worker.stop(worker.options.exit_timeout)
    if previous.handlers is not new.handlers:
        keep = {id(h) for h in new.handlers}
        for handler in previous.handlers:
            if id(handler) not in keep:
                try:
                    handler.flush()
                    handler.close()
                except Exception as exc:
                    report(f"closing handler {handler.name!r}", exc)


def current_config() -> Config:
    """The configuration in force, building the zero-config default on first use."""
    config = _state.config
    if config is None:
        with _state.lock:
            config = _state.config
            if config is None:
                settings = _state.pending_settings or {}
                _state.pending_settings = None
                config = _build(settings, None, True)
                _state.config = config
    return config


_state.default_builder = current_config


def basic_config(**kwargs: Any) -> Config:
    """Alias of :func:`configure` (for stdlib habits)."""
    return configure(**kwargs)


def _set_disabled(names: Sequence[str], disable: bool) -> None:
    with _state.lock:
        cfg = current_config()
        settings = dict(cfg.settings)
        disabled = set(settings.get("disabled") or ())
        targets = list(names) or [""]
        for name in targets:
            if disable:
                disabled.add(name)
            else:
                disabled.discard(name)
                if name == "":
                    disabled.clear()
        settings["disabled"] = sorted(disabled)
        new = _build(settings, cfg, False)
        _swap(new, cfg)


def disable(*names: str) -> None:
    """Silence everything, or the loggers named (and their children)."""
    _set_disabled(names, True)


def enable(*names: str) -> None:
    """Undo :func:`disable` (with no names: re-enable everything)."""
    _set_disabled(names, False)


def reset() -> None:
    """Back to the zero-config default (environment variables still apply)."""
    configure(reset=True)


def export_settings() -> Dict[str, Any]:
    """The settings in force, as plain data, for :func:`import_settings` in
    another process (e.g. a ``spawn``-started worker)::

        ProcessPoolExecutor(initializer=micktrace.import_settings,
                            initargs=(micktrace.export_settings(),))

    Handler objects and processors in the settings must be picklable.
    """
    settings = dict(current_config().settings)
    if isinstance(settings.get("dispatch"), DispatchOptions):
        settings["dispatch"] = settings["dispatch"].as_dict()
    return settings


def import_settings(settings: Mapping[str, Any]) -> Config:
    """Apply settings made by :func:`export_settings` (replacing the current ones)."""
    settings = dict(settings)
    disabled = settings.pop("disabled", None)
    config = configure(reset=True, **settings)
    if disabled:
        disable(*disabled)
        config = current_config()
    return config
