"""``micktrace view``: real log files written by micktrace (JSON, logfmt), structlog
and loguru, every filter, ``--json`` output, pass-through of other text, tracebacks,
colour choice, and following a file that a writer subprocess rotates."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, List, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micktrace.viewer import expressions as E
from micktrace.viewer.parse import _regex_logfmt, _split_logfmt, parse_line
from support.viewer import (
    ALL_MESSAGES,
    LOGURU_WRITER,
    STRUCTLOG_WRITER,
    clean_env,
    lines_with,
    micktrace_file,
    view,
    write_with,
)

ANSI = re.compile(rb"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("viewer")
    return {fmt: micktrace_file(tmp, fmt) for fmt in ("json", "logfmt")}


def ok(result: subprocess.CompletedProcess[bytes]) -> List[bytes]:
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    return result.stdout.splitlines()


# (arguments, the messages of the records they select)
FILTERS = [
    (["-l", "WARNING"], ["Slow query", "Other db", "Down", "Lookup failed"]),
    (["-l", "warn"], ["Slow query", "Other db", "Down", "Lookup failed"]),
    (["-l", "40"], ["Other db", "Down", "Lookup failed"]),
    (["-l", "TRACE"], ALL_MESSAGES),
    (["-l", "critical"], ["Down"]),
    (["--logger", "app.db"], ["Slow query", "Pool grown"]),
    (["--logger", "app.dbx", "--logger", "app.db.pool"], ["Pool grown", "Other db"]),
    (["user_id=42"], ["debugging", "User signed in", "Pool grown", "Other db", "Lookup failed"]),
    (["user_id==42"], ["debugging", "User signed in", "Pool grown", "Other db", "Lookup failed"]),
    (["user_id!=42"], ["tracing", "Slow query", "Down"]),
    # numbers compare as numbers: as text "99" > "100" and "120" <= "99"
    (["latency_ms>100"], ["User signed in", "Slow query", "Down"]),
    (["latency_ms<=99"], ["debugging", "Other db"]),
    (["latency_ms<100"], ["debugging", "Other db"]),
    (["latency_ms>=812", "user_id=43"], ["Down"]),
    (["code=7"], ["Other db"]),
    (["table=orders"], ["Slow query"]),
    (["name=ann smith"], ["User signed in"]),
    (["logger~^app\\.db"], ["Slow query", "Pool grown", "Other db"]),
    (["logger!~^app\\.db"], ["tracing", "debugging", "User signed in", "Down", "Lookup failed"]),
    (["message~(?i)^user"], ["User signed in"]),
    (["level=error"], ["Other db", "Lookup failed"]),
    (["level>=ERROR"], ["Other db", "Down", "Lookup failed"]),
    (["level<INFO"], ["tracing", "debugging"]),
    (["no_such_field=1"], []),
    (["no_such_field!=1"], []),  # a record without the field never matches
    (["-g", "Slow"], ["Slow query"]),
    (["-g", "slow"], []),
    (["-g", "slow", "-i"], ["Slow query"]),
    (["-g", "Pool", "-g", "Down"], ["Pool grown", "Down"]),
    (["-l", "ERROR", "user_id=42"], ["Other db", "Lookup failed"]),
    (["-l", "INFO", "--logger", "app", "latency_ms>100", "-g", "o"], ["User signed in", "Slow query", "Down"]),
    (["--since", "10m"], ALL_MESSAGES),
    (["--until", "10m"], []),
    (["--since", "2000-01-01T00:00:00Z", "--until", "2100-01-01"], ALL_MESSAGES),
    (["--since", "2100-01-01T00:00:00+02:00"], []),
]


@pytest.mark.parametrize("fmt", ["json", "logfmt"])
@pytest.mark.parametrize(("args", "messages"), FILTERS, ids=[" ".join(a) for a, _ in FILTERS])
def test_json_output_is_the_matching_input_lines(
    logs: dict[str, Path], fmt: str, args: List[str], messages: List[str]
) -> None:
    path = logs[fmt]
    assert len(path.read_bytes().splitlines()) == len(ALL_MESSAGES)
    out = ok(view("--json", *args, str(path)))
    assert out == lines_with(path, messages)


def test_the_stdlib_json_parser_gives_the_same_answers(logs: dict[str, Path]) -> None:
    for args in (["-l", "ERROR", "user_id=42"], ["latency_ms>100"], ["--logger", "app.db", "-g", "o"]):
        for fmt in ("json", "logfmt"):
            path = str(logs[fmt])
            fast = ok(view("--json", *args, path))
            assert fast and ok(view("--json", *args, path, env={"MICKTRACE_NO_ORJSON": "1"})) == fast
    pretty = ok(view(str(logs["json"])))
    assert ok(view(str(logs["json"]), env={"MICKTRACE_NO_ORJSON": "1"})) == pretty


def test_stdin_is_read_when_no_file_is_given(logs: dict[str, Path]) -> None:
    data = logs["json"].read_bytes()
    assert ok(view("--json", "-l", "ERROR", stdin=data)) == lines_with(
        logs["json"], ["Other db", "Down", "Lookup failed"]
    )
    assert ok(view("--json", "-", "user_id=7", stdin=data)) == lines_with(logs["json"], ["Slow query"])


def test_several_files_are_read_in_turn(logs: dict[str, Path]) -> None:
    out = ok(view("--json", "table=orders", str(logs["json"]), str(logs["logfmt"])))
    assert out == lines_with(logs["json"], ["Slow query"]) + lines_with(logs["logfmt"], ["Slow query"])


def plain(result: subprocess.CompletedProcess[bytes]) -> List[str]:
    lines = ok(result)
    assert not any(ANSI.search(line) for line in lines)
    return [line.decode() for line in lines]


@pytest.mark.parametrize("fmt", ["json", "logfmt"])
def test_pretty_output_of_micktrace_files(logs: dict[str, Path], fmt: str) -> None:
    lines = plain(view(str(logs[fmt])))
    records = [ln for ln in lines if not ln.startswith(" ")]
    assert len(records) == len(ALL_MESSAGES)
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
    signed_in = records[2]
    assert re.fullmatch(
        stamp + r" INFO     \[app\] +User signed in user_id=42 latency_ms=120 name=\"ann smith\"", signed_in
    )
    assert re.fullmatch(stamp + r" WARNING  \[app\.db\] +Slow query user_id=7 latency_ms=812 table=orders", records[3])
    assert re.fullmatch(stamp + r" CRITICAL \[app\] +Down user_id=43 latency_ms=1000", records[6])
    # aligned: every message starts in the same column
    columns = {ln.index(m) for ln, m in zip(records, ALL_MESSAGES)}
    assert len(columns) == 1, records
    # the traceback is indented under its record, the fields it came from are not repeated
    failed = lines.index(records[7])
    assert re.fullmatch(stamp + r" ERROR    \[app\] +Lookup failed key=missing user_id=42", records[7])
    tail = lines[failed + 1 :]
    assert tail[0] == "    Traceback (most recent call last):"
    assert tail[-1] == "    KeyError: 'missing'"
    assert all(ln.startswith("    ") for ln in tail)
    assert not any("exc_type" in ln or "exception" in ln for ln in lines)


def test_json_and_logfmt_files_render_alike(logs: dict[str, Path]) -> None:
    def body(fmt: str) -> List[str]:
        return [ln.split(" ", 1)[1] for ln in plain(view(str(logs[fmt]))) if not ln.startswith(" ")]

    assert body("json") == body("logfmt")


def test_structlog_json_file(tmp_path: Path) -> None:
    path = tmp_path / "structlog.log"
    write_with(STRUCTLOG_WRITER, str(path))
    lines = plain(view(str(path)))
    assert re.fullmatch(r"\S+Z INFO     \[shop\.orders\] order placed order_id=A-1 user_id=42 amount=99\.5", lines[0])
    assert re.fullmatch(r"\S+Z WARNING  \[shop\.orders\] stock low sku=X left=2", lines[1])
    assert re.fullmatch(r"\S+Z ERROR    \[shop\.orders\] charge failed user_id=42", lines[2])
    assert lines[3] == "    Traceback (most recent call last):"
    assert lines[-1] == "    ZeroDivisionError: division by zero"
    raw = path.read_bytes().splitlines()
    assert ok(view("--json", "-l", "ERROR", str(path))) == [raw[2]]
    assert ok(view("--json", "user_id=42", "--logger", "shop", str(path))) == [raw[0], raw[2]]
    assert ok(view("--json", "message~^stock", str(path))) == [raw[1]]  # "event" is the message


def test_loguru_serialized_file(tmp_path: Path) -> None:
    path = tmp_path / "loguru.log"
    write_with(LOGURU_WRITER, str(path))
    lines = plain(view(str(path)))
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d"
    assert re.fullmatch(stamp + r" INFO     \[__main__\] page served user_id=42 http\.status=200", lines[0])
    assert re.fullmatch(stamp + r" WARNING  \[__main__\] +slow page user_id=7", lines[1])
    assert re.fullmatch(stamp + r" ERROR    \[__main__\] +parse failed user_id=42", lines[2])
    assert lines[3] == "    Traceback (most recent call last):"
    assert lines[-1] == "    ValueError: invalid literal for int() with base 10: 'x'"
    raw = path.read_bytes().splitlines()
    assert ok(view("--json", "-l", "WARNING", str(path))) == raw[1:]
    assert ok(view("--json", "user_id=42", str(path))) == [raw[0], raw[2]]  # from record.extra
    assert ok(view("--json", "http.status=200", str(path))) == [raw[0]]
    assert ok(view("--json", "--logger", "__main__", "--since", "1h", str(path))) == raw
    assert ok(view("--json", "record.process.name=MainProcess", str(path))) == raw


OTHER_LIBRARIES = [
    # python-json-logger
    {
        "asctime": "2024-05-01 12:00:00,123",
        "levelname": "INFO",
        "name": "pjl.app",
        "message": "pjl says",
        "status": 200,
    },
    {
        "asctime": "2024-05-01 12:00:01,000",
        "levelname": "ERROR",
        "name": "pjl.app",
        "message": "pjl failed",
        "exc_info": 'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\nOSError: disk',
    },
    # ECS, nested and dotted
    {
        "@timestamp": "2024-05-01T12:00:02.000Z",
        "log": {"level": "warn", "logger": "ecs.app"},
        "message": "ecs nested",
        "http": {"response": {"status_code": 503}},
    },
    {
        "@timestamp": "2024-05-01T12:00:03.000Z",
        "log.level": "error",
        "log.logger": "ecs.app",
        "message": "ecs dotted",
        "error.stack_trace": "Traceback (most recent call last):\nRuntimeError: ecs boom",
    },
    # Datadog
    {
        "date": "2024-05-01T12:00:04Z",
        "status": "error",
        "message": "dd failed",
        "logger": {"name": "dd.app", "thread_name": "main"},
        "error": {"stack": "Traceback (most recent call last):\nKeyError: 'k'"},
    },
    # GCP
    {"severity": "CRITICAL", "textPayload": "gcp down", "timestamp": {"seconds": 1714564805, "nanos": 5000000}},
    {"severity": "NOTICE", "message": "gcp notice", "time": "2024-05-01T12:00:06Z"},
]


def test_other_libraries_field_names(tmp_path: Path) -> None:
    path = tmp_path / "others.log"
    path.write_text("".join(json.dumps(r) + "\n" for r in OTHER_LIBRARIES))
    lines = plain(view(str(path)))
    assert re.fullmatch(r"2024-05-01 12:00:00,123 INFO     \[pjl\.app\] +pjl says status=200", lines[0])
    assert re.fullmatch(r"2024-05-01 12:00:01,000 ERROR    \[pjl\.app\] +pjl failed", lines[1])
    assert lines[2:5] == [
        "    Traceback (most recent call last):",
        '      File "a.py", line 1, in <module>',
        "    OSError: disk",
    ]
    assert re.fullmatch(
        r"2024-05-01T12:00:02\.000Z WARNING  \[ecs\.app\] +ecs nested http\.response\.status_code=503", lines[5]
    )
    assert re.fullmatch(r"2024-05-01T12:00:03\.000Z ERROR    \[ecs\.app\] +ecs dotted", lines[6])
    assert lines[8] == "    RuntimeError: ecs boom"
    assert re.fullmatch(r"2024-05-01T12:00:04Z ERROR    \[dd\.app\] +dd failed logger\.thread_name=main", lines[9])
    assert lines[11] == "    KeyError: 'k'"
    assert re.fullmatch(r"2024-05-01T12:00:05\.005Z CRITICAL +gcp down", lines[12])
    assert re.fullmatch(r"2024-05-01T12:00:06Z NOTICE +gcp notice", lines[13])
    raw = path.read_bytes().splitlines()
    assert ok(view("--json", "-l", "ERROR", str(path))) == [raw[1], raw[3], raw[4], raw[5]]
    assert ok(view("--json", "-l", "NOTICE", "--until", "2024-05-01T12:00:05.5Z", str(path))) == raw[1:6]
    assert ok(view("--json", "--logger", "ecs", str(path))) == [raw[2], raw[3]]
    assert ok(view("--json", "http.response.status_code>=500", str(path))) == [raw[2]]
    assert ok(view("--json", "logger.thread_name=main", str(path))) == [raw[4]]
    # a Datadog-style "status" that is an HTTP code is a field, not a level
    assert ok(view("--json", "status=200", "-l", "INFO", str(path))) == [raw[0]]


def test_since_and_until_compare_the_records_own_time(tmp_path: Path) -> None:
    now = time.time()
    utc = [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - ago)) + "Z" for ago in (7200, 1800, 60)]
    local_30m = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now - 1800))  # no zone: local time
    lines = [
        json.dumps({"timestamp": utc[0], "level": "INFO", "message": "two hours ago"}),
        json.dumps({"time": now - 1800, "level": "INFO", "message": "epoch seconds"}),
        json.dumps({"ts": int((now - 1800) * 1000), "level": "INFO", "message": "epoch ms"}),
        f'timestamp={utc[1]} level=info message="logfmt half an hour ago"',
        json.dumps({"asctime": local_30m, "levelname": "INFO", "message": "local time"}),
        json.dumps({"timestamp": utc[2], "level": "INFO", "message": "a minute ago"}),
        json.dumps({"level": "INFO", "message": "no time"}),
    ]
    path = tmp_path / "times.log"
    path.write_text("\n".join(lines) + "\n")
    raw = path.read_bytes().splitlines()
    assert ok(view("--json", "--since", "1h", str(path))) == raw[1:6]
    assert ok(view("--json", "--since", "45m", "--until", "10m", str(path))) == raw[1:5]
    assert ok(view("--json", "--until", "1h30m", str(path))) == raw[:1]
    assert ok(view("--json", "--since", "1d", str(path))) == raw[:6]
    cut = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 600))
    assert ok(view("--json", "--since", cut, str(path))) == [raw[5]]
    assert ok(view("--json", f"time<{cut}", str(path))) == raw[:5]


def test_other_text_passes_through_unless_a_field_filter_is_on(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    lines = [
        b"starting up (plain text)",
        b'{"timestamp":"2024-05-01T12:00:00Z","level":"ERROR","logger":"app","message":"boom"}',
        b"    a continuation line",
        b"",
        b"{not json at all",
        b"[1, 2, 3]",
        b'timestamp=2024-05-01T12:00:01Z level=info logger=app message="logfmt line"',
        b"retrying in 5s, attempt=2 of 3",
        b"\xff\xfe not utf-8",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    pretty = ok(view(str(path)))
    assert len(pretty) == len(lines)
    for index in (0, 2, 3, 4, 5, 7, 8):
        assert pretty[index] == lines[index]
    assert pretty[1].startswith(b"2024-05-01T12:00:00Z ERROR    [app] boom")
    assert pretty[6].startswith(b"2024-05-01T12:00:01Z INFO     [app] logfmt line")
    assert ok(view("--json", str(path))) == lines
    # filters that need fields leave other text out; --grep applies to it as to any line
    assert ok(view("--json", "-l", "DEBUG", str(path))) == [lines[1], lines[6]]
    assert ok(view("--json", "logger=app", str(path))) == [lines[1], lines[6]]
    assert ok(view("--json", "-g", "attempt", str(path))) == [lines[7]]
    assert ok(view("-g", "a continuation", str(path))) == [lines[2]]


def test_terminal_controls_in_values_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "evil.log"
    path.write_text(json.dumps({"level": "INFO", "message": "hi\x1b[2Jthere\nfake line", "k": "\x1b]0;x\x07"}) + "\n")
    out = ok(view("--no-color", str(path)))
    assert len(out) == 1 and b"\x1b" not in out[0] and b"\x07" not in out[0]
    assert b"hi\\x1b[2Jthere\\nfake line" in out[0]


def test_colour_choice(logs: dict[str, Path]) -> None:
    path = str(logs["json"])
    forced = ok(view("--color", path))
    assert re.search(
        rb"\x1b\[31mERROR   \x1b\[0m \x1b\[35m\[app\.dbx\]\x1b\[0m +\x1b\[1mOther db\x1b\[0m", b"\n".join(forced)
    )
    assert re.search(rb"\x1b\[1;31mKeyError: 'missing'\x1b\[0m", b"\n".join(forced))
    assert ok(view(path, env={"FORCE_COLOR": "1"})) == forced
    assert ok(view("--no-color", path, env={"FORCE_COLOR": "1"})) == ok(view(path))
    assert not any(ANSI.search(line) for line in ok(view(path, env={"NO_COLOR": "1"})))
    assert not any(ANSI.search(line) for line in ok(view(path)))  # a pipe is not a TTY
    assert not any(ANSI.search(line) for line in ok(view("--json", "--color", path)))  # --json is the input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-file.log"], "no such file"),
        (["-l", "LOUD"], "unknown level"),
        (["msg~(unclosed"], "bad regular expression"),
        (["--since", "yesterday"], "not a duration"),
        (["--interval", "0"], "--interval"),
    ],
)
def test_usage_errors_exit_2(args: List[str], message: str) -> None:
    result = view(*args)
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert b"usage: python -m micktrace view" in result.stderr  # named as invoked (view() runs python -m)


def test_help_names_every_option() -> None:
    out = b"\n".join(ok(view("--help"))).decode()
    for option in (
        "--follow",
        "--level",
        "--logger",
        "--since",
        "--until",
        "--grep",
        "--ignore-case",
        "--json",
        "--color",
        "--no-color",
        "--interval",
    ):
        assert option in out
    top = subprocess.run([sys.executable, "-m", "micktrace", "--help"], capture_output=True, text=True, env=clean_env())
    assert "view" in top.stdout


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_text("".join(json.dumps({"level": "INFO", "message": f"line {i}"}) + "\n" for i in range(50_000)))
    command = f"{sys.executable} -m micktrace view {path} | head -n 1"
    result = subprocess.run(command, shell=True, capture_output=True, env=clean_env(), timeout=60)
    assert result.stdout.count(b"\n") == 1
    assert result.stderr == b""


# --- following -----------------------------------------------------------------------------------

# writers that take one command a line on stdin and answer "ok" when it is done,
# so the test can wait for the viewer to show each step's lines before the next step
WRITER_LOOP = """
import os, sys
for command in sys.stdin:
    step(*command.split())
    print("ok", flush=True)
"""

MICKTRACE_ROTATING = (
    """
import sys
import micktrace
path = sys.argv[1]
micktrace.configure(format="json", handlers=[{"type": "file", "path": path, "rotation": "2 KB", "dispatch": "sync"}])
log = micktrace.get_logger("writer")
def step(start, stop):
    for i in range(int(start), int(stop)):
        log.info("line", i=i, pad="x" * 40)
    micktrace.flush()
"""
    + WRITER_LOOP
)

PLAIN_ROTATING = (
    """
import os, sys
path = sys.argv[1]
def write(target, start, stop):
    with open(target, "a") as f:
        for i in range(int(start), int(stop)):
            f.write('{"level":"INFO","message":"line","i":%d}\\n' % i)
def step(action, *args):
    if action == "write":
        write(path, *args)
    elif action == "rename":              # rotated away; the old file gets one more line, then a new file
        os.rename(path, path + args[0])
        write(path + args[0], args[1], int(args[1]) + 1)
        write(path, int(args[1]) + 1, args[2])
    elif action == "delete":              # rotated and deleted while the viewer still reads it
        os.rename(path, path + ".old")
        os.unlink(path + ".old")
        write(path, *args)
    elif action == "truncate":            # copytruncate
        open(path, "w").close()
        write(path, *args)
"""
    + WRITER_LOOP
)


class Writer:
    def __init__(self, script: str, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )

    def do(self, command: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "ok\n", f"the writer failed at {command!r}"

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


class Viewer:
    """``micktrace view -f`` in a subprocess, its output lines collected by a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "micktrace", "view", "-f", "--interval", "0.02", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.seen: List[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip(b"\n"))

    def wait_for(self, count: int, deadline: float = 60) -> List[bytes]:
        """The first *count* lines; fails when they did not come (the viewer died or lost some)."""
        end = time.monotonic() + deadline
        while len(self.seen) < count:
            try:
                self.seen.append(self.lines.get(timeout=max(0.01, end - time.monotonic())))
            except queue.Empty:
                stderr = b""
                if self.proc.poll() is not None and self.proc.stderr is not None:
                    stderr = self.proc.stderr.read()
                pytest.fail(f"got {len(self.seen)} of {count} lines; viewer exit {self.proc.poll()} {stderr!r}")
        return self.seen[:count]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def viewers() -> Iterator[List[Viewer]]:
    started: List[Viewer] = []
    yield started
    for viewer in started:
        viewer.stop()


def numbers(lines: Sequence[bytes]) -> List[int]:
    return [json.loads(line)["i"] for line in lines]


def test_follow_across_micktrace_size_rotation(tmp_path: Path, viewers: List[Viewer]) -> None:
    path = tmp_path / "app.log"
    viewer = Viewer("--json", str(path))  # started before the file exists: waits for it
    viewers.append(viewer)
    writer = Writer(MICKTRACE_ROTATING, path)
    for start in range(0, 400, 10):  # ten lines (~1.1 KB) a step: at most one rotation in each
        writer.do(f"{start} {start + 10}")
        viewer.wait_for(start + 10)
    writer.close()
    assert len(list(tmp_path.glob("app*.log*"))) > 10  # it did rotate
    assert sorted(numbers(viewer.seen)) == list(range(400))  # every line, once
    time.sleep(0.3)  # a few more polls: nothing is read twice
    assert viewer.lines.empty()


def test_follow_across_rename_delete_and_truncate(tmp_path: Path, viewers: List[Viewer]) -> None:
    path = tmp_path / "app.log"
    path.write_text("")
    viewer = Viewer("--json", "message=line", str(path))
    viewers.append(viewer)
    writer = Writer(PLAIN_ROTATING, path)
    steps = [
        ("write 0 50", 50),
        ("rename .1 50 100", 100),
        ("delete 100 150", 150),
        ("truncate 150 160", 160),
        ("write 160 170", 170),
        ("rename .2 170 180", 180),
    ]
    for command, total in steps:
        writer.do(command)
        assert sorted(numbers(viewer.wait_for(total))) == list(range(total)), command
    writer.close()
    time.sleep(0.3)
    assert viewer.lines.empty()


def test_follow_renders_lines_as_they_are_written(tmp_path: Path, viewers: List[Viewer]) -> None:
    path = tmp_path / "app.log"
    path.write_text('{"level":"INFO","logger":"app","message":"first"}\n')
    viewer = Viewer("--no-color", str(path))
    viewers.append(viewer)
    assert viewer.wait_for(1)[0].startswith(b"INFO     [app] first")
    with path.open("a") as f:
        f.write('{"level":"ERROR","logger":"app","message":"sec')
        f.flush()  # half a line: shown only when it is complete
        time.sleep(0.2)
        assert viewer.lines.empty()
        f.write('ond"}\nplain text\n')
    assert viewer.wait_for(3)[1:] == [b"ERROR    [app] second", b"plain text"]


# --- the pre-checks never reject a line the full check accepts ------------------------------------


LEVEL_WORDS = ["debug", "INFO", "Warn", "error", "ERR", "critical", "fatal", "notice", "trace", "loud", "40", "10"]
KEYS = ["level", "severity", "levelname", "status", "log", "logger", "name", "message", "user_id", "x", "lev\\u0065l"]
scalar = st.one_of(st.sampled_from(LEVEL_WORDS), st.integers(-5, 60), st.sampled_from(["app", "app.db", "a b", 'q"t']))
value = st.recursive(scalar, lambda inner: st.dictionaries(st.sampled_from(KEYS), inner, max_size=3), max_leaves=6)
plain_records = st.dictionaries(st.sampled_from(KEYS), value, max_size=6)
# micktrace's own layout first, which the level pre-check reads without parsing
leading = st.fixed_dictionaries(
    {"timestamp": st.sampled_from(["2024-05-01T12:00:00Z", 'a"b', "c\\", ""]), "level": value}
)
record_dicts = st.one_of(plain_records, st.builds(lambda a, b: {**a, **b}, leading, plain_records))


def as_json(data: dict, spaced: bool, ascii_only: bool) -> bytes:
    text = json.dumps(data, separators=(", ", ": ") if spaced else (",", ":"), ensure_ascii=ascii_only)
    return text.replace('"lev\\\\u0065l"', '"lev\\u0065l"').encode()  # a key spelled with an escape


def as_logfmt(data: dict) -> bytes:
    parts = []
    for key, val in data.items():
        text = val if isinstance(val, str) else json.dumps(val)
        quoted = " " in text or '"' in text or not text
        parts.append(key + "=" + (json.dumps(text) if quoted else text))
    return " ".join(parts).encode()


@settings(max_examples=400, deadline=None)
@given(record_dicts, st.booleans(), st.booleans(), st.booleans(), st.sampled_from([5, 10, 20, 25, 30, 40, 50]))
def test_pre_checks_are_sound(data: dict, logfmt: bool, spaced: bool, ascii_only: bool, threshold: int) -> None:
    raw = as_logfmt(data) if logfmt else as_json(data, spaced, ascii_only)
    parsed = parse_line(raw)
    checks = [
        E.level_check(threshold),
        E.logger_check(["app"]),
        (E.compile_expression("user_id=40")[0], E.required_check([b"user_id"])),
    ]
    for check, pre in checks:
        if parsed is not None and check(parsed):
            assert pre is None or pre(raw), raw


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='ab= "\\\t.\n', max_size=30))
def test_the_fast_logfmt_split_agrees_with_the_regex(text: str) -> None:
    if '\\"' not in text:
        assert _split_logfmt(text) == _regex_logfmt(text)


TRICKY_ERRORS = [
    b'{"timestamp":"x","level":"DEBUG","message":"m","level":"ERROR"}',  # the last key wins
    b'{"timestamp":"x","level":"DEBUG","lev\\u0065l":"ERROR"}',  # the same key, spelled with an escape
    b'{"timestamp":"x\\"","level":"DEBUG","level":"ERROR"}',
    b'{"a": 1, "level": "info", "level": "error"}',
    b"timestamp=x level=debug message=m level=error",
    b'timestamp=x level=debug message="a b" level=error',
    b"a=1 level=info level=error",
    b'{"timestamp":"x","level":40}',
    b"timestamp=x level=40",
]


@pytest.mark.parametrize("raw", TRICKY_ERRORS)
def test_the_level_pre_check_lets_tricky_error_lines_through(raw: bytes) -> None:
    check, pre = E.level_check(40)
    parsed = parse_line(raw)
    assert parsed is not None and check(parsed)
    assert pre is not None and pre(raw)
    cut = raw.replace(b"ERROR", b"INFO").replace(b"error", b"info").replace(b"40", b"20")
    if cut != raw:  # and the same lines below the threshold are skipped either way
        parsed_cut = parse_line(cut)
        assert parsed_cut is not None and not check(parsed_cut)


# --- docs/viewer.md and benchmarks/viewer.py -----------------------------------------------------

DOC = Path(__file__).resolve().parents[1] / "docs" / "viewer.md"


def doc_blocks(lang: str) -> List[str]:
    return re.findall(r"```%s\n(.*?)```" % lang, DOC.read_text(), re.DOTALL)  # noqa: UP031


def test_the_docs_examples_run_as_written(tmp_path: Path) -> None:
    [setup] = doc_blocks("python")
    made = subprocess.run([sys.executable, "-c", setup], cwd=tmp_path, capture_output=True, text=True, env=clean_env())
    assert made.returncode == 0, made.stderr
    # the sample output is what the viewer shows for that file (times aside)
    [sample] = doc_blocks("text")
    shown = subprocess.run(
        [sys.executable, "-m", "micktrace", "view", "app.log"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(),
    )

    def untimed(text: str) -> List[str]:
        return [re.sub(r"^\S+Z ", "", line) for line in text.splitlines()]

    assert untimed(shown.stdout) == untimed(sample)
    [commands] = doc_blocks("sh")
    for command in commands.strip().splitlines():
        run = command.replace("micktrace view", f"{sys.executable} -m micktrace view")
        result = subprocess.run(run, shell=True, cwd=tmp_path, capture_output=True, text=True, env=clean_env())
        assert result.returncode == 0 and result.stdout.strip(), (command, result.stderr)
        assert result.stderr == "", command


def test_the_docs_name_every_option_and_alias() -> None:
    from micktrace.viewer import aliases
    from micktrace.viewer.command import build_parser

    text = DOC.read_text()
    for action in build_parser()._actions:
        for option in action.option_strings:
            assert f"`{option}" in text or f"{option}`" in text, option
    for key in (
        aliases.TIME_KEYS + aliases.LEVEL_KEYS + aliases.LOGGER_KEYS + aliases.MESSAGE_KEYS + aliases.EXCEPTION_KEYS
    ):
        assert f"`{key}`" in text, key
    for name in aliases.LEVELS:
        assert name.upper() in text, name


def test_the_benchmark_agrees_with_jq() -> None:
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "viewer.py"
    result = subprocess.run(
        [sys.executable, str(bench), "--lines", "3000", "--repeat", "1"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr  # it fails when a row's lines differ from jq's
    assert result.stdout.count("lines/s") == 7


def test_micktrace_layout_renders_as_its_aliases_do(logs: dict[str, Path]) -> None:
    # micktrace's own keys take a short cut; the same record under other libraries'
    # names (the general lookup) must look the same
    from micktrace.viewer.render import Renderer

    fast, general = Renderer(True), Renderer(True)
    for raw in logs["json"].read_bytes().splitlines():
        data = json.loads(raw)
        renamed = {{"timestamp": "@timestamp", "logger": "log.logger"}.get(k, k): v for k, v in data.items()}
        assert fast.render(data) == general.render(renamed)


def test_ctrl_c_ends_follow_quietly(tmp_path: Path, viewers: List[Viewer]) -> None:
    import signal

    path = tmp_path / "app.log"
    path.write_text('{"level":"INFO","message":"only"}\n')
    viewer = Viewer("--json", str(path))
    viewers.append(viewer)
    viewer.wait_for(1)
    viewer.proc.send_signal(signal.SIGINT)
    assert viewer.proc.wait(timeout=30) == 130
    assert viewer.proc.stderr is not None and viewer.proc.stderr.read() == b""
