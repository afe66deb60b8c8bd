"""One adapter per library: each sets its library up for one scenario kind and
says how a log call is written, how its output is flushed, and what it writes.

Every adapter configures its library the way that library's own documentation
recommends for speed (benchmarks/README.md lists each configuration and why),
and every one writes the same content: a timestamp, the level, the logger name
``bench``, the message and the record's fields; as one JSON object per line for
the structured kinds, as one text line for ``text``.

Setup kinds (the worker asks for one):

``disabled`` / ``disabled_fields``
    the logger is at INFO and the timed call is ``debug`` (without / with the
    five fields); ``check_call`` is an enabled call proving the setup writes.
``text``      ``info("User login")`` as a text line to a file.
``json``      ``info("User login", <5 fields>)`` as one JSON line to a file.
``json_ctx``  the same through a logger with 3 bound fields, inside 2 context fields.
``json_sync`` micktrace only: ``json`` with ``dispatch="sync"``.
``json_rotation`` micktrace only: ``json`` with the file handler's rotation, retention and compression on.
``mask_on`` / ``mask_off``  micktrace only: ``json`` with masking on / off;
    ``mask_on_distinct`` / ``mask_off_distinct`` add a sixth field whose value
    differs on every call.
``background``  ``json`` through the library's background (queue + thread) mode.
``stalled``   ``background`` whose file writer blocks until ``opts["gate"]`` is set.

Options: ``opts["json"]`` is ``"orjson"`` (default) or ``"stdlib"`` (every
library, micktrace included, then serialises with the stdlib ``json`` module).
"""

from __future__ import annotations

import contextvars
import itertools
import os
import threading
import time
from types import MappingProxyType
from typing import Any, Callable, Dict, Optional

#: the five fields of scenario (3), as keyword arguments and as a dict literal
FIELDS_KW = 'user_id=123, ip="1.2.3.4", success=True, latency_ms=12.5, path="/api/x"'
FIELDS_DICT = '{"user_id": 123, "ip": "1.2.3.4", "success": True, "latency_ms": 12.5, "path": "/api/x"}'
BOUND = {"app": "shop", "region": "eu-1", "worker": 3}
CONTEXT = {"request_id": "r-1", "trace_id": "t-1"}
LOGGER_NAME = "bench"
MESSAGE = "User login"
EMPTY: Dict[str, Any] = MappingProxyType({})  # type: ignore[assignment]
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"

#: the libraries, in table order; "floor" is the pure-Python reference, not a peer
LIBRARIES = ("micktrace", "floor", "stdlib", "loguru", "structlog", "picologging", "logbook")
PEERS = ("stdlib", "loguru", "structlog", "picologging", "logbook")
#: the module each library is imported as
MODULES = {
    "micktrace": "micktrace",
    "floor": "orjson",
    "stdlib": "logging",
    "loguru": "loguru",
    "structlog": "structlog",
    "picologging": "picologging",
    "logbook": "logbook",
}


class NotAvailable(Exception):
    """This library (or this version of it) has no way to run this scenario."""


class Bench:
    """What an adapter hands the timing harness.

    Attributes:
        call: the source text of one log call, as an application writes it.
        names: the local names *call* uses (bound as locals of the timed loop).
        flush: pushes every record the library holds to the file (inside the timing).
        check_call: for the disabled kinds, an enabled call that must write one line.
        close: releases the library's resources at the end (not timed).
    """

    def __init__(
        self,
        call: str,
        names: Dict[str, Any],
        flush: Callable[[], Any],
        check_call: Optional[str] = None,
        close: Optional[Callable[[], Any]] = None,
    ) -> None:
        self.call = call
        self.names = names
        self.flush = flush
        self.check_call = check_call
        self.close = close
        #: objects that must stay alive while the benchmark runs (entered contexts)
        self.keep: list[Any] = []


def _nothing() -> None:
    return None


def _json_dumps(opts: Dict[str, Any]) -> Callable[[Any], Any]:
    """The serialiser a peer uses: ``orjson.dumps`` (bytes) or ``json.dumps`` (str)."""
    if opts.get("json", "orjson") == "stdlib":
        import json

        return json.dumps
    try:
        import orjson
    except ImportError:
        raise NotAvailable("orjson is not installed (pip install orjson, or the 'bench' extra)")
    return orjson.dumps  # type: ignore[no-any-return]


def _to_str(dumps: Callable[[Any], Any]) -> Callable[[Dict[str, Any]], str]:
    """dict -> str with *dumps*, without an extra Python frame per record."""
    import json

    if dumps is json.dumps:
        return dumps  # type: ignore[return-value]
    decode = bytes.decode

    def orjson_str(data: Dict[str, Any]) -> str:
        return decode(dumps(data))

    return orjson_str


def _calls(kind: str, kw_style: str) -> str:
    """The timed call for *kind*; *kw_style* is how the library takes fields."""
    if kind == "disabled":
        return 'log.debug("msg")'
    if kind == "disabled_fields":
        return f'log.debug("msg", {kw_style})'
    if kind == "text":
        return f'log.info("{MESSAGE}")'
    return f'log.info("{MESSAGE}", {kw_style})'


# ---------------------------------------------------------------------------
# micktrace


def setup_micktrace(kind: str, path: str, opts: Dict[str, Any]) -> Bench:
    import micktrace
    from micktrace import ConfigError

    settings: Dict[str, Any] = {
        "level": "INFO",
        "format": "text" if kind == "text" else "json",
        "handlers": [{"type": "file", "config": {"path": path}}],
        "reset": True,
    }
    optional: Dict[str, Any] = {}
    if kind == "json_sync":
        optional["dispatch"] = "sync"
    elif kind == "json_rotation":
        # rotation machinery on (size checked on every write, retention and
        # compression armed); the limit is above what one run writes, so the
        # records stay in the one file the checks read (benchmarks/file_rotation.py
        # measures files that do rotate)
        settings["handlers"] = [
            {"type": "file", "path": path, "rotation": "1 GB", "retention": "5 files", "compression": "gz"}
        ]
    elif kind == "background":
        optional["dispatch"] = "background"
    elif kind.startswith("mask_on"):
        optional["masking"] = True
    elif kind.startswith("mask_off"):
        optional["masking"] = False
    elif kind == "stalled":
        from micktrace.formatters import JSONFormatter
        from micktrace.handlers import FileHandler

        gate: threading.Event = opts["gate"]

        class StalledFileHandler(FileHandler):
            def write(self, line: str) -> None:
                gate.wait()
                super().write(line)

            def write_lines(self, lines: Any) -> None:
                gate.wait()
                super().write_lines(lines)

        settings["handlers"] = [StalledFileHandler(path, formatter=JSONFormatter())]
        optional["dispatch"] = {"mode": "background", "queue_size": 10_000, "overflow": "drop_newest"}
    try:
        micktrace.configure(**settings, **optional)
    except ConfigError as exc:
        if optional:  # a feature this version does not have yet
            raise NotAvailable(f"configure({', '.join(f'{k}={v!r}' for k, v in optional.items())}): {exc}")
        raise
    except TypeError as exc:
        if optional:
            raise NotAvailable(str(exc))
        raise

    log = micktrace.get_logger(LOGGER_NAME)
    context = None
    if kind == "json_ctx":
        log = log.bind(**BOUND)
        context = micktrace.context(**CONTEXT)
        context.__enter__()  # active for the rest of the (single-threaded) run

    flush_all = getattr(micktrace, "flush", None)
    if flush_all is not None:

        def flush() -> None:
            if flush_all(timeout=120) is False:
                raise RuntimeError("micktrace.flush() timed out")

    else:  # before background dispatch existed: flush the handlers themselves

        def flush() -> None:
            from micktrace.config import current_config

            for handler in current_config().handlers:
                handler.flush()

    shutdown = getattr(micktrace, "shutdown", None)
    call, names = _calls(kind, FIELDS_KW), {"log": log}
    if kind.endswith("_distinct"):
        # a sixth field whose value is new on every call, so no cache of
        # strings already found clean can answer for it
        call = f'log.info("{MESSAGE}", {FIELDS_KW}, note=note())'
        names["note"] = map("request {} accepted".format, itertools.count()).__next__
    bench = Bench(
        call,
        names,
        flush,
        check_call=f'log.info("{MESSAGE}", {FIELDS_KW})',
        close=shutdown,
    )
    bench.keep.append(context)
    return bench


# ---------------------------------------------------------------------------
# the pure-Python floor: the least work that produces the same line


def setup_floor(kind: str, path: str, opts: Dict[str, Any]) -> Bench:
    if kind in ("background", "stalled", "json_sync") or kind.startswith("mask_"):
        raise NotAvailable("not a floor scenario")
    file = open(path, "ab")
    write = file.write
    clock = time.time
    dumps = _json_dumps(opts)
    encode = str.encode
    is_bytes = not isinstance(dumps({}), str)
    ctx: contextvars.ContextVar[Dict[str, Any]] = contextvars.ContextVar("floor_ctx", default=EMPTY)

    def emit_json(msg: str, **fields: Any) -> None:
        data = {"timestamp": clock(), "level": "INFO", "logger": LOGGER_NAME, "message": msg}
        data.update(fields)
        line = dumps(data)
        write((line if is_bytes else encode(line)) + b"\n")

    def emit_json_ctx(msg: str, **fields: Any) -> None:
        data = {"timestamp": clock(), "level": "INFO", "logger": LOGGER_NAME, "message": msg}
        data.update(BOUND)
        data.update(ctx.get())
        data.update(fields)
        line = dumps(data)
        write((line if is_bytes else encode(line)) + b"\n")

    def emit_text(msg: str) -> None:
        write(encode(f"{clock():.3f} INFO [{LOGGER_NAME}] {msg}\n"))

    def noop(msg: Any, *args: Any, **kwargs: Any) -> None:
        pass

    close = file.close
    if kind in ("disabled", "disabled_fields"):
        call = 'f("msg")' if kind == "disabled" else f'f("msg", {FIELDS_KW})'
        return Bench(call, {"f": noop, "e": emit_json}, file.flush, f'e("{MESSAGE}", {FIELDS_KW})', close)
    if kind == "text":
        return Bench(f'f("{MESSAGE}")', {"f": emit_text}, file.flush, close=close)
    if kind == "json_ctx":
        ctx.set(dict(CONTEXT))
        return Bench(f'f("{MESSAGE}", {FIELDS_KW})', {"f": emit_json_ctx}, file.flush, close=close)
    return Bench(f'f("{MESSAGE}", {FIELDS_KW})', {"f": emit_json}, file.flush, close=close)


# ---------------------------------------------------------------------------
# stdlib logging and picologging (same API; picologging drops ``extra=``)


def _stdlib_like(mod: Any, handlers_mod: Any, kind: str, path: str, opts: Dict[str, Any], pico: bool) -> Bench:
    to_str = _to_str(_json_dumps(opts))
    ctx: contextvars.ContextVar[Dict[str, Any]] = contextvars.ContextVar("bench_ctx", default=EMPTY)

    class JSONFormatter(mod.Formatter):  # type: ignore[misc, name-defined]
        """One JSON object per record; the fields travel in ``extra={"fields": ...}``
        (stdlib) or as the one mapping argument (picologging, which ignores ``extra``)."""

        def format(self, record: Any) -> str:
            data = {
                "timestamp": record.created,
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            bound = record.__dict__.get("bound")
            if bound:
                data.update(bound)
            context = record.__dict__.get("context")
            if context:
                data.update(context)
            fields = record.args if pico else record.__dict__.get("fields")
            if fields:
                data.update(fields)
            return to_str(data)

    log = mod.getLogger(LOGGER_NAME)
    for old in list(log.handlers):
        log.removeHandler(old)
    log.setLevel(mod.INFO)
    log.propagate = False

    gate: Optional[threading.Event] = opts.get("gate")
    base_file = mod.FileHandler

    class StalledFileHandler(base_file):  # type: ignore[misc, valid-type]
        def emit(self, record: Any) -> None:
            assert gate is not None
            gate.wait()
            super().emit(record)

    file_handler = (StalledFileHandler if kind == "stalled" else base_file)(path, encoding="utf-8")
    if kind == "text" and pico:
        # picologging 0.9 writes garbage for the default asctime and ignores
        # field widths; an explicit datefmt works
        file_handler.setFormatter(mod.Formatter(TEXT_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    elif kind == "text":
        file_handler.setFormatter(mod.Formatter(TEXT_FORMAT))
    else:
        file_handler.setFormatter(JSONFormatter())

    close: Callable[[], Any] = file_handler.close
    flush: Callable[[], Any] = file_handler.flush
    if kind in ("background", "stalled"):
        import queue

        class QueueHandler(handlers_mod.QueueHandler):  # type: ignore[misc, name-defined]
            # the docs' hook: the record stays as it is (nothing is pickled in
            # process), so the caller does not pay for formatting and copying
            def prepare(self, record: Any) -> Any:
                return record

        records: queue.Queue[Any] = queue.Queue(-1)
        listener = handlers_mod.QueueListener(records, file_handler)
        listener.start()
        log.addHandler(QueueHandler(records))

        def flush_queue() -> None:
            records.join()  # the listener marks every record done after handling it
            file_handler.flush()

        def close_queue() -> None:
            listener.stop()
            file_handler.close()

        flush, close = flush_queue, close_queue
    else:
        log.addHandler(file_handler)

    names: Dict[str, Any] = {"log": log}
    if pico:
        style = FIELDS_DICT
        if kind == "json_ctx":
            bound = dict(BOUND)

            class BoundFilter(mod.Filter):  # type: ignore[misc, name-defined]
                def filter(self, record: Any) -> bool:
                    record.bound = bound
                    record.context = ctx.get()
                    return True

            log.addFilter(BoundFilter())
    else:
        style = f"extra={{'fields': {FIELDS_DICT}}}"
        if kind == "json_ctx":

            class BoundAdapter(mod.LoggerAdapter):  # type: ignore[misc, name-defined]
                """The cookbook's way to bind fields: an adapter that adds them."""

                def process(self, msg: Any, kwargs: Any) -> Any:
                    kwargs["extra"]["bound"] = self.extra
                    return msg, kwargs

            class ContextFilter(mod.Filter):  # type: ignore[misc, name-defined]
                """The cookbook's way to add contextvars: a filter that copies them."""

                def filter(self, record: Any) -> bool:
                    record.context = ctx.get()
                    return True

            log.addFilter(ContextFilter())
            names["log"] = BoundAdapter(log, dict(BOUND))
    if kind == "json_ctx":
        ctx.set(dict(CONTEXT))
    call = _calls(kind, style)
    return Bench(call, names, flush, check_call=f'log.info("{MESSAGE}", {style})', close=close)


def setup_stdlib(kind: str, path: str, opts: Dict[str, Any]) -> Bench:
    if kind == "json_sync" or kind.startswith("mask_"):
        raise NotAvailable("micktrace-only scenario")
    import logging
    import logging.handlers

    # the logging HOWTO's "Optimization" section: skip what is not logged
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if hasattr(logging, "logAsyncioTasks"):
        logging.logAsyncioTasks = False
    logging._srcfile = None  # no caller lookup (findCaller)
    return _stdlib_like(logging, logging.handlers, kind, path, opts, pico=False)


def setup_picologging(kind: str, path: str, opts: Dict[str, Any]) -> Bench:
    if kind == "json_sync" or kind.startswith("mask_"):
        raise NotAvailable("micktrace-only scenario")
    import picologging
    import picologging.handlers

    return _stdlib_like(picologging, picologging.handlers, kind, path, opts, pico=True)


# ---------------------------------------------------------------------------
# structlog


def setup_structlog(kind: str, path: str, opts: Dict[str, Any]) -> Bench:
    if kind == "json_sync" or kind.startswith("mask_"):
        raise NotAvailable("micktrace-only scenario")
    if kind in ("background", "stalled"):
        raise NotAvailable("structlog has no background mode of its own")
    import structlog

    stdlib_json = opts.get("json", "orjson") == "stdlib"
    if kind == "text":
        file: Any = open(path, "a", encoding="utf-8")
        processors: list[Any] = [
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
            structlog.dev.ConsoleRenderer(colors=False),
        ]
        factory: Any = structlog.WriteLoggerFactory(file=file)
    else:
        # the "Performance" chapter of structlog's docs, with orjson and bytes
        processors = [
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ]
        if stdlib_json:
            file = open(path, "a", encoding="utf-8")
            processors.append(structlog.processors.JSONRenderer())
            factory = structlog.WriteLoggerFactory(file=file)
        else:
            orjson_dumps = _json_dumps(opts)
            file = open(path, "ab")
            processors.append(structlog.processors.JSONRenderer(serializer=orjson_dumps))
            factory = structlog.BytesLoggerFactory(file=file)
    structlog.configure(
        cache_logger_on_first_use=True,
        wrapper_class=structlog.make_filtering_bound_logger(20),  # INFO
        processors=processors,
        logger_factory=factory,
    )
    log = structlog.get_logger().bind(logger=LOGGER_NAME)
    if kind == "json_ctx":
        log = log.bind(**BOUND)
        structlog.contextvars.bind_contextvars(**CONTEXT)
    return Bench(
        _calls(kind, FIELDS_KW),
        {"log": log},
        file.flush,
        check_call=f'log.info("{MESSAGE}", {FIELDS_KW})',
        close=file.close,
    )


# ---------------------------------------------------------------------------
# loguru


def setup_loguru(kind: str, path: str, opts: Dict[str, Any]) -> Bench:
    if kind == "json_sync" or kind.startswith("mask_"):
        raise NotAvailable("micktrace-only scenario")
    from loguru import logger

    logger.remove()
    to_str = _to_str(_json_dumps(opts))

    def json_format(record: Any) -> str:
        # the docs' recipe for custom JSON: serialise in a format function and
        # hand loguru a template that prints the result
        data = {
            "timestamp": record["time"].timestamp(),
            "level": record["level"].name,
            "message": record["message"],
        }
        extra = record["extra"]
        data.update(extra)
        extra["serialized"] = to_str(data)
        return "{extra[serialized]}\n"

    common: Dict[str, Any] = {"level": "INFO", "backtrace": False, "diagnose": False, "colorize": False}
    file: Any = None
    if kind == "text":
        sink_id = logger.add(
            path, format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <8} [{extra[logger]}] {message}", **common
        )
    elif kind == "stalled":
        gate: threading.Event = opts["gate"]
        file = open(path, "a", encoding="utf-8")

        def stalled_sink(message: str) -> None:
            gate.wait()
            file.write(message)

        sink_id = logger.add(stalled_sink, format=json_format, enqueue=True, **common)
    else:
        sink_id = logger.add(path, format=json_format, enqueue=kind == "background", **common)

    log = logger.bind(logger=LOGGER_NAME, **(BOUND if kind == "json_ctx" else {}))
    context = None
    if kind == "json_ctx":
        # a generator-based context manager: it must stay referenced, or its
        # finalizer resets the context as soon as it is garbage-collected
        context = logger.contextualize(**CONTEXT)
        context.__enter__()

    def flush() -> None:
        logger.complete()  # waits for the enqueue worker; file sinks are line-buffered
        if file is not None:
            file.flush()

    def close() -> None:
        logger.remove(sink_id)
        if file is not None:
            file.close()

    bench = Bench(_calls(kind, FIELDS_KW), {"log": log}, flush, f'log.info("{MESSAGE}", {FIELDS_KW})', close)
    bench.keep.append(context)
    return bench


# ---------------------------------------------------------------------------
# logbook


def setup_logbook(kind: str, path: str, opts: Dict[str, Any]) -> Bench:
    if kind == "json_sync" or kind.startswith("mask_"):
        raise NotAvailable("micktrace-only scenario")
    import logbook
    from logbook.queues import ThreadedWrapperHandler

    logbook.Flags(introspection=False).push_application()  # no frame lookups per record
    to_str = _to_str(_json_dumps(opts))

    def json_formatter(record: Any, handler: Any) -> str:
        data = {
            "timestamp": record.time.isoformat(),
            "level": record.level_name,
            "logger": record.channel,
            "message": record.message,
        }
        if record.extra:
            data.update(record.extra)
        data.update(record.kwargs)
        return to_str(data)

    gate: Optional[threading.Event] = opts.get("gate")

    class StalledFileHandler(logbook.FileHandler):  # type: ignore[misc]
        def emit(self, record: Any) -> None:
            assert gate is not None
            gate.wait()
            super().emit(record)

    cls = StalledFileHandler if kind == "stalled" else logbook.FileHandler
    file_handler = cls(path, level=logbook.INFO, bubble=False)
    if kind != "text":
        file_handler.formatter = json_formatter
    handler: Any = file_handler
    flush: Callable[[], Any] = file_handler.flush
    if kind in ("background", "stalled"):
        handler = ThreadedWrapperHandler(file_handler)

        def flush_thread() -> None:
            # stop() queues a stop command and joins the thread: everything
            # queued before it has been written; then start a fresh thread
            handler.controller.stop()
            file_handler.flush()
            handler.controller.start()

        flush = flush_thread
    handler.push_application()

    class BoundLogger(logbook.Logger):  # type: ignore[misc]
        """Logbook's documented way to add fields: process_record."""

        def process_record(self, record: Any) -> None:
            super().process_record(record)
            record.extra.update(BOUND)

    log = (BoundLogger if kind == "json_ctx" else logbook.Logger)(LOGGER_NAME, level=logbook.INFO)
    if kind == "json_ctx":

        def add_context(record: Any) -> None:
            record.extra.update(CONTEXT)

        logbook.Processor(add_context).push_context()  # contextvars-bound, like the others
    return Bench(_calls(kind, FIELDS_KW), {"log": log}, flush, f'log.info("{MESSAGE}", {FIELDS_KW})', handler.close)


SETUPS: Dict[str, Callable[[str, str, Dict[str, Any]], Bench]] = {
    "micktrace": setup_micktrace,
    "floor": setup_floor,
    "stdlib": setup_stdlib,
    "loguru": setup_loguru,
    "structlog": setup_structlog,
    "picologging": setup_picologging,
    "logbook": setup_logbook,
}


def rss_bytes() -> int:
    """The resident set size of this process, in bytes."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        import psutil  # the 'bench' extra; only needed off Linux

        return int(psutil.Process().memory_info().rss)
