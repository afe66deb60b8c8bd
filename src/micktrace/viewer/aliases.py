"""The field names the viewer understands, per logging library, and the level table.

Each core field (time, level, logger, message, exception) is found under the
first of its aliases the record holds; a dotted alias (``log.level``) matches a
flat key of that name or the nested path. Plain data only: imports nothing.
"""

from __future__ import annotations

from typing import Dict, Tuple

#: aliases of each core field, in lookup order, with the libraries that write them
TIME_KEYS: Tuple[str, ...] = (
    "timestamp",  # micktrace, structlog (TimeStamper), Datadog, GCP
    "@timestamp",  # ECS
    "time",  # GCP, zap/pino style
    "ts",  # zap, logfmt writers
    "date",  # Datadog
    "asctime",  # python-json-logger
    "datetime",
)
LEVEL_KEYS: Tuple[str, ...] = (
    "level",  # micktrace, structlog, zap, pino
    "levelname",  # python-json-logger
    "severity",  # GCP
    "log.level",  # ECS
    "loglevel",
    "lvl",
    "level_name",
    "status",  # Datadog (only when it names a level: an HTTP status is a field)
)
LOGGER_KEYS: Tuple[str, ...] = (
    "logger",  # micktrace, structlog
    "log.logger",  # ECS
    "logger.name",  # Datadog
    "logger_name",
    "loggerName",
    "name",  # python-json-logger
)
MESSAGE_KEYS: Tuple[str, ...] = (
    "message",  # micktrace, python-json-logger, ECS, Datadog, GCP
    "msg",  # zap, pino, logfmt writers
    "event",  # structlog
    "textPayload",  # GCP
)
#: fields holding a traceback: a string, or micktrace's ``{"type", "message", "traceback", "frames"}``
EXCEPTION_KEYS: Tuple[str, ...] = (
    "exception",  # micktrace JSON, structlog (format_exc_info)
    "exc_info",  # python-json-logger
    "exc_text",
    "exc_traceback",  # micktrace logfmt
    "error.stack_trace",  # ECS
    "error.stack",  # Datadog
    "stack_trace",
    "stacktrace",
    "stack",  # micktrace stack_info
)
#: fields written beside a traceback that it already shows (micktrace logfmt)
EXCEPTION_COMPANIONS: Tuple[str, ...] = ("exc_type", "exc_message")

#: loguru ``serialize=True``: ``{"text": ..., "record": {...}}``; paths inside "record"
LOGURU_TIME = ("time.repr", "time.timestamp")
LOGURU_LEVEL = ("level.name", "level.no")
LOGURU_LOGGER = ("name",)
LOGURU_MESSAGE = ("message",)
LOGURU_FIELDS = "extra"
LOGURU_EXCEPTION = "exception"

#: the keys a field expression may use for the core fields, whatever the library calls them
CORE_NAMES = ("time", "level", "logger", "message")

#: level names (lower case) and their rank, on the stdlib scale micktrace uses
LEVELS: Dict[str, int] = {
    "default": 0,  # GCP
    "trace": 5,
    "debug": 10,
    "dbg": 10,
    "info": 20,
    "information": 20,
    "notice": 25,  # syslog, GCP
    "success": 25,  # loguru
    "warning": 30,
    "warn": 30,
    "error": 40,
    "err": 40,
    "critical": 50,
    "crit": 50,
    "fatal": 50,
    "alert": 60,  # syslog, GCP
    "emergency": 70,
    "emerg": 70,
    "panic": 70,
}
#: the name shown for a rank (the first name of each rank above)
CANONICAL: Dict[int, str] = {}
for _name, _rank in LEVELS.items():
    CANONICAL.setdefault(_rank, _name.upper())
#: the canonical name of every level name
CANONICAL_NAME: Dict[str, str] = {name: CANONICAL[rank] for name, rank in LEVELS.items()}
