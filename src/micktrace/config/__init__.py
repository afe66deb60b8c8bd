"""``configure()``: validate settings, build one immutable snapshot, swap it in.

Settings accumulate: each ``configure()`` call changes only the keys it names
(``configure(level="DEBUG")`` keeps the handlers and format), unless
``reset=True``. For every key the effective value is, in order: the explicit
argument (from this or an earlier call), the environment variable, the default.
The new :class:`Config` is built completely (handlers opened) before it replaces
the old one, so a bad configuration raises :class:`ConfigError` and leaves the
running one untouched; then every existing logger is rebound at once.

Modules: settings (keywords, environment, validation), handlers (building
handlers from specs), snapshot (the immutable Config); this module builds a
snapshot (:func:`_build`), swaps it in and holds the public functions.

May import: _state, _report, dispatch, handlers, masking, stdlib_capture,
trace_ids, and the modules of this package.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .. import _state
from .._report import report
from ..dispatch import Dispatcher, DispatchOptions, parse_dispatch
from ..errors import ConfigError
from ..formatters import formatter_for
from ..handlers.base import Handler
from ..handlers.stdlib_forward import DefaultConsoleHandler
from ..levels import LevelLike
from ..pipeline import Processor
from .files import ENV_CONFIG, ConfigFileError, env_config_path, read_settings
from .handlers import COMMON_HANDLER_KEYS, HANDLER_TYPES, PLANNED_HANDLER_TYPES, build_handler, previous_handlers
from .inherit import adopt, publish
from .settings import (
    _HANDLER_KEYS,
    _KNOWN_KEYS,
    DEFAULT_FORMAT,
    DEFAULT_LEVEL,
    ENV_ENVIRONMENT,
    ENV_FORMAT,
    ENV_LEVEL,
    ENV_SERVICE,
    ENV_VERSION,
    _effective,
    _validate,
)
from .snapshot import Config


def _build(settings: Dict[str, Any], previous: Optional[Config], rebuild_handlers: bool) -> Config:
    level, fmt, static = _effective(settings)
    specs = settings.get("handlers")
    if previous is not None and not rebuild_handlers and previous.format == fmt:
        handlers = previous.handlers
    elif specs is None:
        # with no handlers and no format chosen, the default handler
        # forwards to stdlib when the application configured stdlib logging
        # (decided per record: docs/stdlib.md, "Out of micktrace")
        if settings.get("format") is None and not (os.environ.get(ENV_FORMAT) or "").strip():
            # text, or JSON where the environment asks for it (micktrace.environment)
            default_handler = DefaultConsoleHandler(formatter=formatter_for(fmt)) if fmt != "text" else None
            handlers = (default_handler or DefaultConsoleHandler(),)
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
    # an explicit caller=False wins over a handler that would show the caller
    caller = settings["caller"] if settings.get("caller") is not None else any(h.needs_caller for h in handlers)
    processors: List[Processor] = list(settings.get("processors") or ())
    # trace ids of the active OpenTelemetry span, first (trace_ids.py)
    from ..trace_ids import trace_processor

    otel = trace_processor()
    if otel is not None:
        processors.insert(0, otel)
    # masking runs first, so no other processor or handler sees a secret
    from ..masking import build_masker

    masker = build_masker(settings.get("masking"))
    if masker is not None:
        processors.insert(0, masker)
    global_dispatch: DispatchOptions = settings.get("dispatch") or DispatchOptions()
    modes: List[str] = []
    options: List[DispatchOptions] = []
    for handler in handlers:
        own = getattr(handler, "dispatch_spec", None)
        opts = parse_dispatch(own[0], own[1], global_dispatch) if own is not None else global_dispatch
        modes.append(opts.mode or global_dispatch.mode or handler.default_dispatch)
        options.append(opts)
    # with one background handler and no processor of the user's after
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
    capture_uncaught: Optional[bool] = None,
    **unknown: Any,
) -> Config:
    """Configure micktrace for this process; callable again at any time.

    Args:
        level: the least severe level emitted (name or number). Env: ``MICKTRACE_LEVEL``.
        format: ``"text"``, ``"json"``, ``"logfmt"``, ``"structured"`` (= json) or
            ``"rich"``, or a template (``"{time} {level} {message} {fields}"``, see
            docs/formatting.md), for handlers that do not set their own. Env: ``MICKTRACE_FORMAT``.
        service, version, environment: added to every record. Env:
            ``MICKTRACE_SERVICE``, ``MICKTRACE_VERSION``, ``MICKTRACE_ENVIRONMENT``.
        handlers: handler specs: ``{"type": "file", "config": {"path": "app.log"}}``
            (options may also be given flat), Handler instances, objects with
            ``handle(record)``, or callables taking a record.
        loggers: per logger-name prefix levels, ``{"urllib3": "WARNING"}``.
        fields: more fields added to every record.
        caller: record the caller's file, line and function (costs ~0.3 µs a call).
            Unset, it is on when a handler shows it (the console on a terminal
            does); False turns it off everywhere.
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
            "capture_uncaught": capture_uncaught,
            "masking": masking,
        }
    )
    with _state.lock:
        previous = _state.config
        base = _env_file_settings(strict=True) if reset or previous is None else dict(previous.settings)
        if not reset and previous is not None and "disabled" in previous.settings:
            base["disabled"] = previous.settings["disabled"]
        base.update(given)
        rebuild = reset or previous is None or any(k in given for k in _HANDLER_KEYS)
        new = _build(base, previous, rebuild)
        _state.install(new)  # every logger follows (the logger layer listens)
        publish(new.settings)  # for spawn/forkserver children (inherit.py)
    _retire(previous, new)
    # outside the lock, since it takes stdlib logging's lock
    if capture_stdlib is not None or "micktrace.stdlib_capture" in sys.modules:
        from ..stdlib_capture import apply_capture_setting  # loads logging: only when asked

        apply_capture_setting(new, capture_stdlib, reset)
    if capture_uncaught is not None or (reset and "micktrace.uncaught" in sys.modules):
        from ..uncaught import apply_setting  # installs hooks: only when asked

        apply_setting(capture_uncaught, reset)
    return new


def _retire(previous: Optional[Config], new: Config) -> None:
    """*new* is in force: finish *previous* once nothing uses it any more.

    A log call that read *previous* just before the swap still delivers
    through it: a record belongs to exactly one configuration, and that one
    delivers it. So the log calls under way are waited for first (outside the
    state lock, at most ``_state.RETIRE_GRACE`` seconds, a hung handler
    aside), then the workers the new configuration does not reuse deliver
    what they hold and stop, and the handlers it does not keep are closed.
    """
    if previous is None:
        return
    kept_timed = {id(t) for t in new.dispatcher.timed}
    timed = [t for t in previous.dispatcher.timed if id(t) not in kept_timed]
    kept_workers = {id(w) for w in new.dispatcher.workers}
    workers = [w for w in previous.dispatcher.workers if id(w) not in kept_workers]
    keep = {id(h) for h in new.handlers}
    handlers = [h for h in previous.handlers if id(h) not in keep]
    if not (timed or workers or handlers):
        return  # nothing to close (a new level, say): no need to wait
    _state.wait_for_log_calls()
    for runner in timed:
        runner.stop()
    # workers the new configuration does not reuse: deliver what they hold, then stop
    for worker in workers:
        worker.stop(worker.options.exit_timeout)
    for handler in handlers:
        try:
            handler.flush()
            handler.close()
        except Exception as exc:
            report(f"closing handler {handler.name!r}", exc)


def _env_file_settings(strict: bool) -> Dict[str, Any]:
    """The validated settings of the file ``MICKTRACE_CONFIG`` names ({} when unset).

    *strict* (inside ``configure()``): a bad file raises ConfigError. Otherwise
    (the first log call builds the default) it is reported once on stderr and
    in health(), and the defaults apply: a log call never raises."""
    path = env_config_path()
    if path is None:
        return {}
    try:
        settings = read_settings(path)
        try:
            clean = _validate(settings)
        except ConfigError as exc:
            raise ConfigFileError(path, exc.key, exc.value, exc.allowed) from None
    except ConfigError as exc:
        _state.config_file = {"path": path, "status": "error", "error": str(exc), "loaded_at": None}
        if strict:
            raise
        report(f"configuration file {path!r} ({ENV_CONFIG})", None, f"not applied: {exc}")
        return {}
    _state.config_file = {"path": path, "status": "ok", "error": None, "loaded_at": time.time()}
    return clean


def config_report() -> Dict[str, Any]:
    """What micktrace chose where it runs, and why: the platform detected, the
    format and where it came from, the resource fields added to every record,
    the level and the handlers (see docs/environments.md)."""
    from ..environment import ENV_DETECT, detect

    cfg = current_config()
    settings = cfg.settings
    place = detect()
    if settings.get("format") is not None:
        format_from = "configure(format=...)"
    elif (os.environ.get(ENV_FORMAT) or "").strip():
        format_from = f"{ENV_FORMAT}={os.environ[ENV_FORMAT]}"
    elif place.wants_json:
        format_from = f"detected: {place.platform}, stderr is not a terminal"
    elif place.platform is not None:
        format_from = f"detected: {place.platform}, stderr is a terminal"
    else:
        format_from = "default" + (f" ({ENV_DETECT} off)" if place.evidence else "")
    return {
        "platform": place.platform,
        "evidence": place.evidence,
        "stderr_is_tty": place.tty,
        "format": cfg.format,
        "format_from": format_from,
        "resource_fields": {k: v for k, v in cfg.static.items() if k in place.fields},
        "static_fields": dict(cfg.static),
        "level": cfg.level,
        "handlers": [f"{type(h).__name__}({h.name})" for h in cfg.handlers],
        "config_file": dict(_state.config_file) if _state.config_file else None,
    }


def current_config() -> Config:
    """The configuration in force, building the zero-config default on first use."""
    config = _state.config
    if config is None:
        with _state.lock:
            config = _state.config
            if config is None and _state.pending_settings is None and adopt(import_settings):
                config = _state.config  # a spawn/forkserver child: the parent's configuration
            if config is None:
                settings = _state.pending_settings
                if settings is None:
                    settings = _env_file_settings(strict=False)
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
        _state.install(new)
        publish(new.settings)
    _retire(cfg, new)


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



__all__ = [
    "COMMON_HANDLER_KEYS",
    "DEFAULT_FORMAT",
    "DEFAULT_LEVEL",
    "ENV_ENVIRONMENT",
    "ENV_FORMAT",
    "ENV_LEVEL",
    "ENV_SERVICE",
    "ENV_VERSION",
    "HANDLER_TYPES",
    "PLANNED_HANDLER_TYPES",
    "Config",
    "basic_config",
    "build_handler",
    "config_report",
    "configure",
    "current_config",
    "disable",
    "enable",
    "export_settings",
    "import_settings",
    "reset",
]
