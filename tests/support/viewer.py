"""Helpers for the viewer tests: run ``python -m micktrace view`` and write real
log files with micktrace, structlog and loguru (each in a subprocess of its own)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"

#: the records tests/support/viewer.py's micktrace writer logs, in order: (logger, level, message)
MICKTRACE_RECORDS = [
    ("app", "TRACE", "tracing"),
    ("app", "DEBUG", "debugging"),
    ("app", "INFO", "User signed in"),
    ("app.db", "WARNING", "Slow query"),
    ("app.db.pool", "INFO", "Pool grown"),
    ("app.dbx", "ERROR", "Other db"),
    ("app", "CRITICAL", "Down"),
    ("app", "ERROR", "Lookup failed"),
]
ALL_MESSAGES = [m for _, _, m in MICKTRACE_RECORDS]

MICKTRACE_WRITER = """
import sys
import micktrace
fmt, path = sys.argv[1], sys.argv[2]
micktrace.configure(format=fmt, level="TRACE", handlers=[{"type": "file", "path": path}])
log = micktrace.get_logger("app")
log.trace("tracing", user_id=1)
log.debug("debugging", user_id=42, latency_ms=5)
log.info("User signed in", user_id=42, latency_ms=120, name="ann smith")
micktrace.get_logger("app.db").warning("Slow query", user_id=7, latency_ms=812, table="orders")
micktrace.get_logger("app.db.pool").info("Pool grown", size=10, user_id=42)
micktrace.get_logger("app.dbx").error("Other db", user_id=42, latency_ms=99, code="007")
log.critical("Down", user_id=43, latency_ms=1000)
try:
    {}["missing"]
except KeyError:
    log.exception("Lookup failed", key="missing", user_id=42)
micktrace.flush()
micktrace.reset()
"""

STRUCTLOG_WRITER = """
import sys
import structlog
out = open(sys.argv[1], "w")
structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ],
    logger_factory=structlog.WriteLoggerFactory(file=out),
)
log = structlog.get_logger().bind(logger="shop.orders")
log.info("order placed", order_id="A-1", user_id=42, amount=99.5)
log.warning("stock low", sku="X", left=2)
try:
    1 / 0
except ZeroDivisionError:
    log.exception("charge failed", user_id=42)
out.close()
"""

LOGURU_WRITER = """
import sys
from loguru import logger
logger.remove()
logger.add(sys.argv[1], serialize=True)
logger.bind(user_id=42, http={"status": 200}).info("page served")
logger.bind(user_id=7).warning("slow page")
try:
    int("x")
except ValueError:
    logger.bind(user_id=42).exception("parse failed")
"""


def clean_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("MICKTRACE_") and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    env["PYTHONPATH"] = str(SRC)
    env["MICKTRACE_DETECT"] = "0"
    env.update(extra or {})
    return env


def view(
    *args: str, stdin: Optional[bytes] = None, env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m micktrace view ARGS`` in a fresh interpreter (output as bytes)."""
    return subprocess.run(
        [sys.executable, "-m", "micktrace", "view", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=clean_env(env),
        timeout=60,
    )


def write_with(script: str, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=clean_env(), timeout=60
    )
    assert result.returncode == 0, result.stderr


def micktrace_file(tmp: Path, fmt: str) -> Path:
    path = tmp / f"app.{fmt}.log"
    write_with(MICKTRACE_WRITER, fmt, str(path))
    return path


def message_of(line: str) -> str:
    """The message of one micktrace JSON or logfmt line, read without the viewer."""
    if line.startswith("{"):
        return str(json.loads(line)["message"])
    match = re.search(r'(?:^| )message=(?:"((?:[^"\\]|\\.)*)"|(\S+))', line)
    assert match is not None, line
    return match.group(1) if match.group(1) is not None else match.group(2)


def lines_with(path: Path, messages: Sequence[str]) -> List[bytes]:
    """The raw lines of *path* whose message is one of *messages*, in file order."""
    wanted = set(messages)
    return [raw for raw in path.read_bytes().splitlines() if message_of(raw.decode()) in wanted]
