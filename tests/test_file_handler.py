"""The file handler in production: rotation, retention, compression, several
processes, files moved underneath, and failures that heal by themselves.

Everything here uses real files and real processes. Time rotation is driven by
an injected clock; nothing asserts how long anything took.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import json
import lzma
import os
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import micktrace
from conftest import run_python
from micktrace import ConfigError, MissingExtraError
from micktrace.handlers.file import FileHandler
from micktrace.handlers.memory import MemoryHandler
from micktrace.handlers.rotation import Schedule, parse_retention, parse_rotation

ROTATED = re.compile(r"^app\.(\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d{6})\.log(\.gz|\.bz2|\.xz|\.lz4|\.zst)?$")


def _decompress(name: str, data: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".bz2"):
        return bz2.decompress(data)
    if name.endswith(".xz"):
        return lzma.decompress(data)
    if name.endswith(".lz4"):
        import lz4.frame

        return bytes(lz4.frame.decompress(data))
    if name.endswith(".zst"):
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    return data


def log_set(directory: Path) -> Tuple[List[str], Dict[str, bytes]]:
    """(rotated file names in name order, {name: decompressed content}) incl. app.log."""
    contents: Dict[str, bytes] = {}
    rotated: List[str] = []
    for path in directory.iterdir():
        if path.name.startswith("."):
            continue
        assert not path.name.endswith(".tmp"), f"a compression left its temporary file: {path.name}"
        contents[path.name] = _decompress(path.name, path.read_bytes())
        if path.name != "app.log":
            assert ROTATED.match(path.name), path.name
            rotated.append(path.name)
    return sorted(rotated), contents


def all_lines(directory: Path) -> List[str]:
    """Every line of the rotated set, oldest file first, then app.log."""
    rotated, contents = log_set(directory)
    lines: List[str] = []
    for name in [*rotated, "app.log"]:
        data = contents.get(name, b"")
        assert data == b"" or data.endswith(b"\n"), f"{name} ends with a torn line"
        lines.extend(data.decode("utf-8").splitlines())
    return lines


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp()  # type: ignore[misc]


# ---------------------------------------------------------------------------
# options: the {"type": "file"} spec, validation, permissions


def test_plain_spec_still_works_nested_and_flat(tmp_path: Path) -> None:
    micktrace.configure(
        format="json",
        dispatch="sync",
        handlers=[
            {"type": "file", "config": {"path": str(tmp_path / "a.log")}},
            {"type": "file", "path": str(tmp_path / "b.log"), "rotation": "1 MB", "retention": 3},
        ],
    )
    micktrace.get_logger("x").info("hello", n=1)
    for name in ("a.log", "b.log"):
        line = json.loads((tmp_path / name).read_text())
        assert line["message"] == "hello" and line["n"] == 1
    handlers = micktrace.configure().handlers
    assert isinstance(handlers[1], FileHandler) and handlers[1].retention == 3


BAD_OPTIONS = [
    ("rotation", "100 parsecs", "daily"),
    ("rotation", "0 MB", "100 MB"),
    ("rotation", -5, "int of bytes"),
    ("rotation", True, "100 MB"),
    ("rotation", "36 hours", "6 hours"),
    ("rotation", "25:00", "00:00"),
    ("rotation", "someday at 10:00", "monday at 12:00"),
    ("rotation", [], "a list"),
    ("retention", "ten files", "10 files"),
    ("retention", "1.5 files", "10 files"),
    ("retention", -1, "14 days"),
    ("compression", "rar", "zstd"),
    ("compression", ["gz"], "gz"),
    ("watch", -1, "seconds"),
    ("watch", "yes", "True"),
    ("fsync", 0, "seconds between syncs"),
    ("fsync", "always", "True"),
    ("permissions", "640", "0o640"),
    ("permissions", 0o10000, "0o600"),
    ("utc", "yes", "True or False"),
    ("clock", 3, "time.time"),
    ("encoding_errors", "nope", "backslashreplace"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_OPTIONS)
def test_invalid_option_names_key_value_and_allowed(tmp_path: Path, key: str, value: Any, allowed: str) -> None:
    spec: Dict[str, Any] = {"type": "file", "path": str(tmp_path / "app.log"), key: value}
    if key in ("retention", "compression"):
        spec["rotation"] = "1 MB"
    with pytest.raises(ConfigError) as info:
        micktrace.configure(handlers=[spec])
    assert info.value.key == f"handlers[0].{key}"
    assert repr(value) in str(info.value)
    assert allowed in info.value.allowed
    assert not (tmp_path / "app.log").exists()  # validated before anything is created


def test_retention_or_compression_without_rotation_is_an_error(tmp_path: Path) -> None:
    for key, value in (("retention", "3 files"), ("compression", "gz")):
        with pytest.raises(ConfigError) as info:
            FileHandler(tmp_path / "app.log", **{key: value})
        assert info.value.key == key and "rotation" in info.value.allowed


def test_missing_compression_library_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"type": "file", "path": str(tmp_path / "app.log"), "rotation": "1 MB"}
    for module, choice in (("lz4", "lz4"), ("zstandard", "zstd")):
        monkeypatch.setitem(sys.modules, module, None)
        if module == "lz4":
            monkeypatch.setitem(sys.modules, "lz4.frame", None)
        with pytest.raises(MissingExtraError) as info:
            micktrace.configure(handlers=[{**spec, "compression": choice}])
        assert "micktrace[performance]" in str(info.value) and module in str(info.value)


@pytest.mark.parametrize(
    ("value", "max_bytes", "schedules"),
    [
        ("100 MB", 100_000_000, []),
        ("10 MiB", 10 * 1024 * 1024, []),
        ("500kb", 500_000, []),
        (4096, 4096, []),
        ("daily", None, ["daily"]),
        (["1 GB", "hourly"], 1_000_000_000, ["hourly"]),
        (["2 MB", "1 MB", "00:00"], 1_000_000, ["00:00"]),
        (dt.timedelta(hours=6), None, ["6:00:00"]),
        (dt.time(4, 30), None, ["04:30:00"]),
    ],
)
def test_rotation_values(value: Any, max_bytes: Optional[int], schedules: List[str]) -> None:
    size, parsed = parse_rotation(value)
    assert size == max_bytes
    assert [s.text for s in parsed] == schedules


def test_retention_values() -> None:
    assert parse_retention("10 files") == (10, None)
    assert parse_retention(7) == (7, None)
    assert parse_retention("14 days") == (None, 14 * 86400.0)
    assert parse_retention(["5 files", "12 hours"]) == (5, 12 * 3600.0)
    assert parse_retention(dt.timedelta(weeks=2)) == (None, 14 * 86400.0)


TWO_DAYS_NEXT = utc(2024, 5, 3) if dt.date(2024, 5, 3).toordinal() % 2 == 0 else utc(2024, 5, 2)


@pytest.mark.parametrize(
    ("spec", "now", "expected"),
    [
        ("daily", utc(2024, 5, 1, 13, 45), utc(2024, 5, 2)),
        ("midnight", utc(2024, 5, 1, 0, 0), utc(2024, 5, 2)),  # strictly after
        ("hourly", utc(2024, 5, 1, 13, 45), utc(2024, 5, 1, 14)),
        ("6 hours", utc(2024, 5, 1, 13, 45), utc(2024, 5, 1, 18)),
        ("7 hours", utc(2024, 5, 1, 22, 0), utc(2024, 5, 2)),  # the count restarts at midnight
        ("30 minutes", utc(2024, 5, 1, 13, 45), utc(2024, 5, 1, 14)),
        ("04:30", utc(2024, 5, 1, 3, 0), utc(2024, 5, 1, 4, 30)),
        ("at 04:30", utc(2024, 5, 1, 5, 0), utc(2024, 5, 2, 4, 30)),
        ("daily at 23:59:30", utc(2024, 5, 1, 5, 0), utc(2024, 5, 1, 23, 59, 30)),
        ("weekly", utc(2024, 5, 1, 12), utc(2024, 5, 6)),  # 2024-05-01 is a Wednesday
        ("1 week", utc(2024, 5, 6, 0, 0), utc(2024, 5, 13)),
        ("sunday at 12:00", utc(2024, 5, 1), utc(2024, 5, 5, 12)),
        ("2 days", utc(2024, 5, 1, 12), TWO_DAYS_NEXT),  # every other day, counted from 0001-01-01
    ],
)
def test_rotation_times_are_aligned_to_the_clock(spec: str, now: float, expected: float) -> None:
    _, (schedule,) = parse_rotation(spec, utc=True)
    assert isinstance(schedule, Schedule)
    assert schedule.next_after(now) == expected


def test_local_time_rotation_across_a_dst_change() -> None:
    code = r"""
import os, time, datetime as dt
os.environ["TZ"] = "Europe/Berlin"
time.tzset()
from micktrace.handlers.rotation import parse_rotation
_, (daily,) = parse_rotation("daily")
_, (hourly,) = parse_rotation("hourly")
# 2024-03-31: clocks go from 02:00 to 03:00 (a 23-hour day)
t = dt.datetime(2024, 3, 31, 0, 30).timestamp()
print(dt.datetime.fromtimestamp(daily.next_after(t)).isoformat())
print(dt.datetime.fromtimestamp(hourly.next_after(dt.datetime(2024, 3, 31, 1, 30).timestamp())).isoformat())
print(daily.next_after(t) - t)
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    first, second, span = proc.stdout.split()
    assert first == "2024-04-01T00:00:00"
    assert second == "2024-03-31T03:00:00"  # 02:00 does not exist that night
    assert float(span) == 22.5 * 3600


def test_permissions_are_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        handler = FileHandler(tmp_path / "app.log", rotation=200, compression="gz")
        for i in range(20):
            handler.write(f"line {i:03d} " + "x" * 30)
        assert handler.wait_for_compression(30)
        handler.close()
        secret = FileHandler(tmp_path / "secret.log", permissions=0o600)
        secret.write("s")
        secret.close()
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes.pop("secret.log") == 0o600
    assert modes.pop(".app.log.lock") == 0o640
    assert modes and set(modes.values()) == {0o640}  # app.log and every compressed rotated file
    assert any(name.endswith(".log.gz") for name in modes)


def test_mode_w_truncates_once(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("old\n")
    handler = FileHandler(path, mode="w", rotation="1 MB")
    handler.write("new")
    handler.close()
    assert path.read_text() == "new\n"


def test_fsync_policies_write_and_flush(tmp_path: Path) -> None:
    for policy in (True, 0.5):
        path = tmp_path / f"sync-{policy}.log"
        handler = FileHandler(path, fsync=policy, rotation="64 KB")
        handler.write("one")
        handler.write_lines(["two", "three"])
        handler.flush()
        handler.close()
        assert path.read_text() == "one\ntwo\nthree\n"


# ---------------------------------------------------------------------------
# size rotation in one process


def test_size_rotation_names_sort_in_order_and_files_stay_under_the_limit(tmp_path: Path) -> None:
    handler = FileHandler(tmp_path / "app.log", rotation="1 KB")
    expected = [f"record {i:05d} " + "x" * (i % 37) for i in range(600)]
    for i, line in enumerate(expected):
        if i % 3:
            handler.write(line)
        else:
            handler.write_lines([line])
    handler.close()
    rotated, contents = log_set(tmp_path)
    assert len(rotated) == handler.rotations >= 15
    for name in rotated:
        assert 1000 - 60 < len(contents[name]) <= 1000  # rotated before the write that would cross 1 KB
    assert all_lines(tmp_path) == expected  # name order is rotation order; nothing lost or repeated


def test_a_batch_crossing_the_limit_is_split_at_the_rotation_point(tmp_path: Path) -> None:
    handler = FileHandler(tmp_path / "app.log", rotation=100)
    handler.write("small")
    big = [f"line {i}" for i in range(50)]
    handler.write_lines(big)  # fills up the current file, then as many as it takes
    handler.write_lines(["x" * 250, "after"])  # a record over the limit: a file of its own
    handler.close()
    rotated, contents = log_set(tmp_path)
    assert contents[rotated[0]].startswith(b"small\nline 0\n")
    for name in rotated[:-2]:  # full: the next line (at most 8 bytes) would not have fitted
        assert 100 - 8 < len(contents[name]) <= 100, (name, contents[name])
    assert contents[rotated[-2]] == b"line 49\n"  # the next record did not fit
    assert contents[rotated[-1]] == b"x" * 250 + b"\n"
    assert contents["app.log"] == b"after\n"
    assert all_lines(tmp_path) == ["small", *big, "x" * 250, "after"]


def test_names_stay_sorted_when_the_clock_goes_back(tmp_path: Path) -> None:
    clock = FakeClock(utc(2024, 5, 1, 12))
    handler = FileHandler(tmp_path / "app.log", rotation=10, clock=clock, utc=True)
    for i in range(6):
        handler.write(f"record {i}")
        clock.now -= 3600  # NTP step backwards, or a frozen test clock
    handler.close()
    rotated, contents = log_set(tmp_path)
    assert [contents[name].decode().strip() for name in rotated] == [f"record {i}" for i in range(5)]
    # the first rotation happened at 11:00; the later ones, earlier by the clock, sort after it
    assert rotated[:3] == [
        "app.2024-05-01_11-00-00_000000.log",
        "app.2024-05-01_11-00-00_000001.log",
        "app.2024-05-01_11-00-00_000002.log",
    ]


def test_threads_share_one_rotating_handler(tmp_path: Path) -> None:
    handler = FileHandler(tmp_path / "app.log", rotation="20 KB")

    def work(t: int) -> None:
        for i in range(0, 1500, 5):
            if (i // 5) % 2:
                handler.write_lines([f"{t} {i + k}" for k in range(5)])
            else:
                for k in range(5):
                    handler.write(f"{t} {i + k}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.close()
    last = dict.fromkeys(range(6), -1)
    for line in all_lines(tmp_path):  # each thread's records once, in order, across the files
        t, i = map(int, line.split())
        assert i == last[t] + 1
        last[t] = i
    assert last == dict.fromkeys(range(6), 1499)


# ---------------------------------------------------------------------------
# time rotation, driven by an injected clock


def test_daily_rotation_with_an_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock(utc(2024, 5, 1, 9, 30))
    handler = FileHandler(tmp_path / "app.log", rotation="daily", clock=clock, utc=True)
    handler.write("may 1 morning")
    clock.now = utc(2024, 5, 1, 23, 59, 59)
    handler.write("may 1 late")
    clock.now = utc(2024, 5, 2, 0, 0, 0)  # exactly at the rotation point
    handler.write("may 2")
    clock.now = utc(2024, 5, 5, 8)  # three quiet days: one rotation, not three
    handler.write("may 5")
    clock.now = utc(2024, 5, 6, 0, 0, 1)
    handler.write_lines(["may 6 a", "may 6 b"])
    handler.close()
    rotated, contents = log_set(tmp_path)
    assert rotated == [
        "app.2024-05-02_00-00-00_000000.log",
        "app.2024-05-03_00-00-00_000000.log",
        "app.2024-05-06_00-00-00_000000.log",
    ]
    assert [contents[name] for name in rotated] == [b"may 1 morning\nmay 1 late\n", b"may 2\n", b"may 5\n"]
    assert contents["app.log"] == b"may 6 a\nmay 6 b\n"


def test_hourly_and_size_together(tmp_path: Path) -> None:
    clock = FakeClock(utc(2024, 5, 1, 10, 0))
    handler = FileHandler(tmp_path / "app.log", rotation=["hourly", "100 B"], clock=clock, utc=True)
    for minute in range(0, 180, 5):  # three hours, a 40-byte line every 5 minutes
        clock.now = utc(2024, 5, 1, 10, 0) + minute * 60
        handler.write(f"minute {minute:03d} " + "." * 27)
    handler.close()
    rotated, contents = log_set(tmp_path)
    for name in rotated:
        assert len(contents[name]) <= 100
    hours = [contents[name].decode().splitlines() for name in rotated] + [contents["app.log"].decode().splitlines()]
    for lines in hours:  # no file mixes two hours
        assert len({int(line.split()[1]) // 60 for line in lines}) == 1
    assert sum(map(len, hours)) == 36
    assert "app.2024-05-01_11-00-00_000000.log" in rotated and "app.2024-05-01_12-00-00_000000.log" in rotated


def test_a_file_left_from_yesterday_rotates_at_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("yesterday\n")
    yesterday = utc(2024, 5, 1, 22)
    os.utime(path, (yesterday, yesterday))
    clock = FakeClock(utc(2024, 5, 2, 7))
    handler = FileHandler(path, rotation="daily", clock=clock, utc=True)
    handler.write("today")
    handler.close()
    rotated, contents = log_set(tmp_path)
    assert rotated == ["app.2024-05-02_00-00-00_000000.log"]
    assert contents[rotated[0]] == b"yesterday\n" and contents["app.log"] == b"today\n"


def test_an_empty_period_leaves_no_empty_file(tmp_path: Path) -> None:
    clock = FakeClock(utc(2024, 5, 1, 10, 0))
    path = tmp_path / "app.log"
    handler = FileHandler(path, rotation="hourly", clock=clock, utc=True)
    clock.now = utc(2024, 5, 1, 12, 30)
    handler.write("first")
    handler.close()
    assert log_set(tmp_path)[0] == []
    assert path.read_text() == "first\n"


# ---------------------------------------------------------------------------
# retention and compression, read back from disk


def test_retention_by_count_keeps_the_newest(tmp_path: Path) -> None:
    handler = FileHandler(tmp_path / "app.log", rotation=100, retention="3 files")
    lines = [f"record {i:04d} " + "y" * 20 for i in range(60)]  # 32 bytes: 3 per file
    for line in lines:
        handler.write(line)
    handler.close()
    rotated, _ = log_set(tmp_path)
    assert len(rotated) == 3 and handler.rotations == 19
    assert all_lines(tmp_path) == lines[-12:]


def test_retention_by_age_with_compression(tmp_path: Path) -> None:
    clock = FakeClock(utc(2024, 5, 1, 12))
    handler = FileHandler(
        tmp_path / "app.log", rotation="daily", retention="2 days", compression="gz", clock=clock, utc=True
    )
    for day in range(1, 8):
        clock.now = utc(2024, 5, day, 12)
        handler.write(f"day {day}")
        assert handler.wait_for_compression(30)
    handler.close()
    rotated, contents = log_set(tmp_path)
    # at May 7 12:00 the files that ended May 6 and May 7 at 00:00 are within two days
    assert rotated == ["app.2024-05-06_00-00-00_000000.log.gz", "app.2024-05-07_00-00-00_000000.log.gz"]
    assert [contents[name] for name in rotated] == [b"day 5\n", b"day 6\n"]
    assert contents["app.log"] == b"day 7\n"


@pytest.mark.parametrize("method", ["gz", "bz2", "xz", "lz4", "zstd"])
def test_compression_reads_back(tmp_path: Path, method: str) -> None:
    handler = FileHandler(tmp_path / "app.log", rotation="4 KB", compression=method)
    lines = [f"{method} record {i:05d} ünïcödé " + "z" * (i % 50) for i in range(400)]
    for line in lines:
        handler.write(line)
    assert handler.wait_for_compression(60)
    handler.close()
    rotated, contents = log_set(tmp_path)
    extension = {"gz": ".gz", "bz2": ".bz2", "xz": ".xz", "lz4": ".lz4", "zstd": ".zst"}[method]
    assert rotated and all(name.endswith(".log" + extension) for name in rotated)
    for name in rotated:  # smaller on disk than what it holds
        assert (tmp_path / name).stat().st_size < len(contents[name])
    assert all_lines(tmp_path) == lines


def test_compression_is_off_the_hot_path_and_picks_up_leftovers(tmp_path: Path) -> None:
    # a rotated file some earlier process left uncompressed is compressed at the next rotation
    leftover = tmp_path / "app.2024-01-01_00-00-00_000000.log"
    leftover.write_bytes(b"from a process that died\n")
    handler = FileHandler(tmp_path / "app.log", rotation=50, compression="gz")
    handler.write("a" * 40)
    handler.write("b" * 40)
    assert handler.wait_for_compression(30)
    handler.close()
    rotated, contents = log_set(tmp_path)
    assert rotated[0] == leftover.name + ".gz" and len(rotated) == 2
    assert contents[rotated[0]] == b"from a process that died\n"
    assert contents[rotated[1]] == b"a" * 40 + b"\n"


# ---------------------------------------------------------------------------
# several processes writing one file

PREFORK = r"""
import multiprocessing, os, sys
import micktrace

path, n, procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# the master opens the handler, then forks its workers (gunicorn's pre-fork model):
# the children inherit its file descriptors, including the lock file's
micktrace.configure(format="json", handlers=[{
    "type": "file", "path": path, "rotation": "300 KB", "compression": "gz",
    "dispatch": {"batch_size": 100, "block_timeout": 60},  # a loaded machine must not drop
}])
micktrace.get_logger("master").info("master ready", w=-1, i=0)
micktrace.flush()

def work(w):
    log = micktrace.get_logger(f"worker{w}")
    for i in range(n):
        log.info("request handled", w=w, i=i, path="/api/items", status=200)
    micktrace.shutdown()  # and nothing else: shutdown() leaves every rotated file compressed

ctx = multiprocessing.get_context("fork")
children = [ctx.Process(target=work, args=(w,)) for w in range(procs)]
for child in children:
    child.start()
for child in children:
    child.join()
print(",".join(str(child.exitcode) for child in children))
"""


def test_four_processes_rotate_compress_and_shut_down(tmp_path: Path) -> None:
    procs, n, limit = 4, 50_000, 300_000
    proc = run_python(PREFORK, str(tmp_path / "app.log"), str(n), str(procs), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == ",".join(["0"] * procs)
    assert "micktrace" not in proc.stderr, proc.stderr[-3000:]
    rotated, contents = log_set(tmp_path)  # no temporary file left
    assert all(name.endswith(".log.gz") for name in rotated)  # every rotated file compressed
    seen = set()
    longest = 0
    for line in all_lines(tmp_path):
        record = json.loads(line)  # every line intact
        key = (record["w"], record["i"])
        assert key not in seen, f"duplicate {key}"
        seen.add(key)
        longest = max(longest, len(line) + 1)
    assert len(seen) == procs * n + 1
    # one rotation per rotation point, and the limit holds: a writer checks the
    # size and writes under the exclusive lock, and a batch that would cross the
    # limit is split there, so a file is rotated when its next record does not fit
    total = sum(len(data) for data in contents.values())
    assert len(rotated) >= total // limit - 1
    for name in rotated:
        assert limit - longest < len(contents[name]) <= limit, name


INDEPENDENT = r"""
import sys
import micktrace
path, w, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
micktrace.configure(format="logfmt", dispatch="sync",
                    handlers=[{"type": "file", "path": path, "rotation": "64 KB", "retention": 1000}])
log = micktrace.get_logger("independent")
for i in range(n):
    log.info("hit", w=w, i=i)
"""


def test_independent_processes_with_per_record_writes(tmp_path: Path) -> None:
    import subprocess

    from conftest import SRC

    env = dict(os.environ, PYTHONPATH=str(SRC))
    procs, n = 4, 8000
    children = [
        subprocess.Popen(
            [sys.executable, "-c", INDEPENDENT, str(tmp_path / "app.log"), str(w), str(n)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(procs)
    ]
    for child in children:
        _, err = child.communicate(timeout=240)
        assert child.returncode == 0, err[-2000:]
    rotated, contents = log_set(tmp_path)
    keys = []
    for line in all_lines(tmp_path):
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        keys.append((int(fields["w"]), int(fields["i"])))
    assert len(keys) == len(set(keys)) == procs * n
    longest = max(len(line) + 1 for line in all_lines(tmp_path))
    for name in rotated:  # see the four-process test for the bounds
        assert 64_000 - longest < len(contents[name]) <= 64_000 + (procs - 1) * longest


TIME_PROCESSES = r"""
import multiprocessing, os, sys, time
from micktrace.handlers.file import FileHandler

path, procs = sys.argv[1], int(sys.argv[2])
start = 1714521600.0  # 2024-05-01 00:00 UTC
now = multiprocessing.Value("d", start + 1800, lock=False)
written = multiprocessing.Value("q", 0)
stop = multiprocessing.Event()
handler = FileHandler(path, rotation="hourly", utc=True, clock=lambda: now.value, watch=False)

def work(w):
    i = 0
    while not stop.is_set():
        handler.write(f"{w} {i}")
        i += 1
        with written.get_lock():
            written.value += 1
    handler.write(f"{w} done {i}")

ctx = multiprocessing.get_context("fork")
children = [ctx.Process(target=work, args=(w,)) for w in range(procs)]
for child in children:
    child.start()
for hour in range(1, 4):
    # wait for progress, then move the shared clock past the next hour
    target = written.value + 300
    while written.value < target:
        time.sleep(0.001)
    now.value = start + hour * 3600 + 1
target = written.value + 300
while written.value < target:
    time.sleep(0.001)
stop.set()
for child in children:
    child.join()
print(",".join(str(child.exitcode) for child in children))
"""


def test_processes_rotate_once_per_time_point(tmp_path: Path) -> None:
    proc = run_python(TIME_PROCESSES, str(tmp_path / "app.log"), "3", timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "0,0,0"
    rotated, _ = log_set(tmp_path)
    assert rotated == [  # three hours crossed, three rotations, whoever got there first
        "app.2024-05-01_01-00-00_000000.log",
        "app.2024-05-01_02-00-00_000000.log",
        "app.2024-05-01_03-00-00_000000.log",
    ]
    lines = all_lines(tmp_path)
    assert len(lines) == len(set(lines))
    done = {int(line.split()[0]): int(line.split()[2]) for line in lines if " done " in line}
    assert set(done) == {0, 1, 2}
    expected = {f"{w} {i}" for w, count in done.items() for i in range(count)}
    assert {line for line in lines if " done " not in line} == expected


# ---------------------------------------------------------------------------
# moved or deleted underneath (logrotate)

MOVE_WRITER = r"""
import os, sys
import micktrace
path, rotation = sys.argv[1], sys.argv[2]
spec = {"type": "file", "path": path}
if rotation != "off":
    spec["rotation"] = rotation
micktrace.configure(format="logfmt", handlers=[spec])
log = micktrace.get_logger("mover")
i = 0
stop = path + ".stop"
while not os.path.exists(stop):
    log.info("tick", i=i)
    i += 1
    if i % 50 == 0:
        micktrace.flush()  # the background worker writes a batch
log.info("tick", i=i, last=True)
micktrace.flush()
print(i + 1)
"""


def _wait_for(predicate: Any, what: str, limit: float = 60.0) -> None:
    event = threading.Event()
    for _ in range(int(limit / 0.01)):
        if predicate():
            return
        event.wait(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def _ticks(path: Path) -> List[int]:
    text = path.read_text()
    lines = text.splitlines()
    if not text.endswith("\n"):
        lines = lines[:-1]  # read while a write was landing
    return [int(dict(p.split("=", 1) for p in line.split() if "=" in p)["i"]) for line in lines]


@pytest.mark.parametrize("rotation", ["off", "10 MB"])
def test_logrotate_move_create_and_delete_while_writing(tmp_path: Path, rotation: str) -> None:
    import subprocess

    from conftest import SRC

    path = tmp_path / "app.log"
    env = dict(os.environ, PYTHONPATH=str(SRC))
    writer = subprocess.Popen(
        [sys.executable, "-c", MOVE_WRITER, str(path), rotation],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: path.exists() and path.stat().st_size > 1000, "the first lines")
        path.rename(tmp_path / "app.log.1")  # logrotate without "create": the handler recreates it
        _wait_for(lambda: path.exists() and path.stat().st_size > 1000, "the file to be recreated")
        path.rename(tmp_path / "app.log.2")  # logrotate "create": it makes the new file itself
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o640))
        _wait_for(lambda: path.stat().st_size > 1000, "the created file to be adopted")
        path.rename(tmp_path / "app.log.3")
        path_ino = (tmp_path / "app.log.3").stat().st_ino
        _wait_for(lambda: path.exists() and path.stat().st_size > 1000, "the file after the third move")
        before_delete = max(_ticks(path))
        path.unlink()  # an operator deletes the current file: what it held is gone,
        _wait_for(lambda: path.exists() and path.stat().st_size > 1000, "a new file after the delete")
    finally:
        (tmp_path / "app.log.stop").touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err[-2000:]
    total = int(out)
    moved = [_ticks(tmp_path / f"app.log.{k}") for k in (1, 2, 3)]
    assert all(moved), "every move left lines behind in the moved file"
    # nothing lost or repeated around the moves: the moved files hold one run of records
    joined = [tick for ticks in moved for tick in ticks]
    assert joined == list(range(len(joined)))
    assert path.stat().st_ino != path_ino
    after = _ticks(path)  # ...but logging goes on into a new file
    assert after == sorted(after) and after[0] > before_delete and after[-1] == total - 1


# ---------------------------------------------------------------------------
# failures: reported, sent to the fallback, healed without help


def test_directory_removed_then_recreated(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    fallback = MemoryHandler()
    micktrace.configure(
        format="json",
        fallback=fallback,
        dispatch={"retries": 1, "backoff": 0.01, "breaker_threshold": 0},
        handlers=[{"type": "file", "path": str(logdir / "app.log"), "name": "f", "rotation": "1 MB"}],
    )
    log = micktrace.get_logger("app")
    log.info("before")
    micktrace.flush()
    shutil.rmtree(logdir)
    log.info("while gone")  # must not raise
    micktrace.flush()
    assert [r.message for r in fallback.records] == ["while gone"]
    health = micktrace.health()["handlers"]["f"]
    assert health["status"] == "failing"
    assert "No such file or directory" in health["last_error"]
    handler = micktrace.configure().handlers[0]
    assert isinstance(handler, FileHandler)
    assert handler.last_error is not None and "No such file" in handler.last_error
    assert handler.last_error_time is not None
    logdir.mkdir()
    log.info("after")
    micktrace.flush()
    assert [json.loads(line)["message"] for line in (logdir / "app.log").read_text().splitlines()] == ["after"]
    assert micktrace.health()["handlers"]["f"]["status"] != "failing"


DISK_FULL = r"""
import json, resource, signal, sys
import micktrace
from micktrace.handlers.file import FileHandler
from micktrace.handlers.memory import MemoryHandler

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
path = sys.argv[1]
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
out = {}

# 1. the handler alone: a batch cut short by a full disk, then the rest sent again
handler = FileHandler(path + ".direct")
batch = [f"line {i:02d} " + "x" * 38 for i in range(30)]  # 47 bytes a line
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
try:
    handler.write_lines(batch)
except OSError as exc:
    out["error"] = exc.errno
    out["written"] = exc.written
out["last_error"] = handler.last_error
try:
    handler.write("one more " + "z" * 40)  # cut short after 13 bytes: taken back whole
except OSError as exc:
    out["single"] = [type(exc).__name__, exc.errno]
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
handler.write_lines(batch[out["written"]:])  # the caller sends on what was not written
handler.write("next")
handler.close()

# 2. through configure(): the application never sees the error
fallback = MemoryHandler()
micktrace.configure(format="json", dispatch="sync", fallback=fallback,
                    handlers=[{"type": "file", "path": path, "name": "f"}])
log = micktrace.get_logger("full")
log.info("fits")
resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
log.info("does not fit")
out["fallback"] = [r.message for r in fallback.records]
out["health"] = micktrace.health()["handlers"]["f"]["status"]
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
log.info("space again")
out["health_after"] = micktrace.health()["handlers"]["f"]["status"]
print(json.dumps(out))
"""


def test_disk_full_partial_batch_and_recovery(tmp_path: Path) -> None:
    import errno

    path = tmp_path / "app.log"
    proc = run_python(DISK_FULL, str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["error"] == errno.EFBIG and "File too large" in out["last_error"]
    lines = Path(str(path) + ".direct").read_text().splitlines()
    batch = [f"line {i:02d} " + "x" * 38 for i in range(30)]
    # 1000 bytes fit: 21 whole lines and 13 bytes of the 22nd, which are taken back
    assert out["written"] == 21
    assert out["single"] == ["OSError", errno.EFBIG]  # one record: nothing of it written, a plain error
    assert lines == [*batch, "next"]  # every line once, none torn
    assert out["fallback"] == ["does not fit"]
    assert out["health"] == "failing" and out["health_after"] != "failing"
    assert [json.loads(line)["message"] for line in path.read_text().splitlines()] == ["fits", "space again"]
    assert "micktrace: handler 'f' failed: OSError" in proc.stderr  # reported once on stderr


NOBODY = r"""
import json, os, sys
import micktrace
import micktrace.handlers.file as file_module
from micktrace.handlers import rotation
from micktrace.handlers.memory import MemoryHandler
import micktrace.formatters.json, micktrace.formatters.text, micktrace.monitoring, inspect

base = sys.argv[1]
# import everything the scenario needs first (orjson, for one, must not load after the switch)
micktrace.configure(format="json", handlers=[{"type": "memory"}])
micktrace.get_logger("warm").info("up", i=0)
micktrace.health()
if os.geteuid() == 0:  # root ignores permissions: become nobody (modules already loaded)
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
out = {}
logdir = os.path.join(base, "logs")
os.mkdir(logdir, 0o700)
fallback = MemoryHandler()
micktrace.configure(format="json", dispatch="sync", fallback=fallback, handlers=[
    {"type": "file", "path": os.path.join(logdir, "plain.log"), "name": "plain", "watch": 0},
    {"type": "file", "path": os.path.join(logdir, "rot.log"), "name": "rot", "rotation": "200 B"},
])
log = micktrace.get_logger("perm")
log.info("a")
file_module.ROTATION_RETRY = 0.0  # retry the rotation at every write, to see it heal at once
# permission denied: the file was moved away and the directory made read-only
os.rename(os.path.join(logdir, "plain.log"), os.path.join(logdir, "moved.log"))
os.chmod(logdir, 0o500)
for i in range(5):
    log.info("b", i=i)  # past 200 B: rot.log cannot rotate, and keeps the records
out["fallback"] = [(r.message, r.data.get("i")) for r in fallback.records]
out["plain"] = micktrace.health()["handlers"]["plain"]
out["rot"] = micktrace.health()["handlers"]["rot"]
out["rot_last_error"] = micktrace.configure().handlers[1].last_error
os.chmod(logdir, 0o700)
log.info("c")
out["files"] = sorted(os.listdir(logdir))
out["plain_after"] = micktrace.health()["handlers"]["plain"]["status"]
print(json.dumps(out))
"""


def test_permission_denied_is_reported_and_heals() -> None:
    base = tempfile.mkdtemp(prefix="micktrace-perm-")
    try:
        os.chmod(base, 0o777)
        proc = run_python(NOBODY, base)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout)
        assert out["fallback"] == [["b", i] for i in range(5)]  # only the plain handler's copies
        assert out["plain"]["status"] == "failing" and "Permission denied" in out["plain"]["last_error"]
        # it wrote every record, to the current file: not failing, but health()
        # shows the rotation error it survived (degraded for HEALTH_WINDOW)
        assert out["rot"]["status"] == "degraded"
        assert "Permission denied" in out["rot"]["last_error"]
        assert "Permission denied" in out["rot_last_error"]
        assert "failed to rotate (writing on to the current file)" in proc.stderr
        assert out["plain_after"] != "failing"
        logdir = Path(base) / "logs"
        assert [json.loads(line)["message"] for line in (logdir / "plain.log").read_text().splitlines()] == ["c"]
        rotated = [name for name in out["files"] if name.startswith("rot.2")]
        assert len(rotated) == 1  # rotated once the directory was writable again
        messages = (logdir / rotated[0]).read_text().splitlines() + (logdir / "rot.log").read_text().splitlines()
        assert [json.loads(line)["message"] for line in messages] == ["a", "b", "b", "b", "b", "b", "c"]
    finally:
        shutil.rmtree(base, ignore_errors=True)


FORK_WHILE_LOCKED = r"""
import os, sys, threading
from micktrace.handlers.file import FileHandler
handler = FileHandler(sys.argv[1], rotation="1 KB")
handler.write("parent")
entered, release = threading.Event(), threading.Event()
def hold():
    with handler._lock:  # another thread is mid-write when the process forks
        entered.set()
        release.wait()
threading.Thread(target=hold).start()
entered.wait()
pid = os.fork()
if pid == 0:
    for i in range(100):
        handler.write(f"child {i}")
    os._exit(0)
_, status = os.waitpid(pid, 0)
release.set()
handler.write("parent again")
print(status)
"""


def test_fork_while_another_thread_writes(tmp_path: Path) -> None:
    proc = run_python(FORK_WHILE_LOCKED, str(tmp_path / "app.log"), timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "0"
    lines = all_lines(tmp_path)
    assert sorted(lines) == sorted(["parent", "parent again", *[f"child {i}" for i in range(100)]])


COUNT_AFTER_FORK = r"""
import json, os, sys
import micktrace
from micktrace.handlers.file import FileHandler
calls = []
original = FileHandler.after_fork
def counting(self):
    calls.append(self.name)
    original(self)
FileHandler.after_fork = counting
micktrace.configure(dispatch="sync", handlers=[
    {"type": "file", "path": sys.argv[1] + "/configured.log", "name": "configured", "rotation": "1 MB"},
])
standalone = FileHandler(sys.argv[1] + "/standalone.log", name="standalone")
replaced = micktrace.configure().handlers[0]
micktrace.configure(dispatch="sync", handlers=[{"type": "memory", "name": "memory"}])  # closes "configured"
kept = FileHandler(sys.argv[1] + "/kept.log", name="kept")
micktrace.configure(dispatch="sync", handlers=[{"type": "memory", "name": "memory"}, kept])
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, json.dumps(sorted(calls)).encode())
    os._exit(0)
os.close(write)
print(os.read(read, 4096).decode())
_, status = os.waitpid(pid, 0)
print(calls, status)
"""


def test_after_fork_runs_once_per_file_handler_in_a_forked_child(tmp_path: Path) -> None:
    # the dispatcher resets the handlers of the configuration, the file handler's
    # own hook resets the others: every live file handler exactly once
    proc = run_python(COUNT_AFTER_FORK, str(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    child, parent = proc.stdout.splitlines()
    assert json.loads(child) == ["configured", "kept", "standalone"]
    assert parent == "[] 0"  # nothing runs in the parent


def test_import_starts_nothing_and_compression_starts_its_thread_on_first_rotation(tmp_path: Path) -> None:
    code = r"""
import sys, threading, micktrace
print("micktrace.handlers.rotation" in sys.modules, threading.active_count())
from micktrace.handlers.file import FileHandler
plain = FileHandler(sys.argv[1] + "/plain.log")
plain.write("x")
print("micktrace.handlers.rotation" in sys.modules)
handler = FileHandler(sys.argv[1] + "/app.log", rotation=50, compression="gz")
handler.write("a" * 40)
print([t.name for t in threading.enumerate()])
handler.write("b" * 40)  # the first rotation starts the compressor
assert handler.wait_for_compression(30)
import os
print(sorted(name.rsplit(".", 1)[-1] for name in os.listdir(sys.argv[1]) if name.startswith("app.2")))
"""
    proc = run_python(code, str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["False 1", "False", "['MainThread']", "['gz']"]
