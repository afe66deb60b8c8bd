"""The file handler's delivery guarantees under pressure, tested for real.

* A disk that fills up (a small tmpfs mounted by a fixture; RLIMIT_FSIZE in a
  subprocess, which needs no root, is in test_file_handler.py): every record
  ends up in exactly one place, the file or the fallback, and the file never
  holds a torn record.
* Compression: ``close()`` finishes what it started, and what a killed
  process left (its temporary file, the original) is cleaned up and compressed
  at the next start. (Four processes rotating, compressing and calling
  ``shutdown()``: ``test_four_processes_rotate_compress_and_shut_down`` in
  test_file_handler.py.)
* A batch crossing the size limit is split on whole records.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from conftest import run_python
from micktrace.handlers.file import FileHandler

# ---------------------------------------------------------------------------
# a disk that fills up


def _mount_tmpfs(tmp_path: Path, options: str) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"{options},mode=0777", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(
            "the disk-full tests mount a small tmpfs and need root (or CAP_SYS_ADMIN): "
            f"mount failed: {proc.stderr.strip() or proc.returncode}"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: it fills up for real (ENOSPC, short writes)."""
    yield from _mount_tmpfs(tmp_path, "size=256k")


@pytest.fixture
def few_inodes_fs(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs with room for three inodes: its root, the lock file and app.log."""
    yield from _mount_tmpfs(tmp_path, "size=1m,nr_inodes=3")


FILL = r"""
import json, sys
import micktrace
from micktrace.handlers.memory import MemoryHandler

path, n, fmt, dispatch, rotation = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
fallback = MemoryHandler(capacity=10**6)
spec = {"type": "file", "path": path, "name": "f"}
if rotation != "-":
    spec["rotation"] = rotation
if dispatch == "background":
    # fail fast: the test is about where records go, not about waiting
    spec["dispatch"] = {"batch_size": 37, "retries": 1, "backoff": 0.001, "block_timeout": 60}
else:
    spec["dispatch"] = "sync"
micktrace.configure(format=fmt, fallback=fallback, handlers=[spec])
log = micktrace.get_logger("fill")
for i in range(n):
    if i % 3 == 0:  # a record of several lines in the text format
        try:
            raise ValueError(f"boom {i}")
        except ValueError:
            log.exception("record", i=i, pad="x" * (i % 50))
    else:
        log.info("record", i=i, pad="y" * (i % 70))
micktrace.flush()
stats = micktrace.metrics()["handlers"]["f"]
micktrace.shutdown()
print(json.dumps({"fallback": [r.data["i"] for r in fallback.records], "counted": stats["fallback"],
                  "dropped": stats["dropped"]}))
"""

_TEXT_HEAD = re.compile(r"^\S.* record i=(\d+) pad=(\"\"|x+|y+)$")


def _records_in(data: bytes, fmt: str) -> List[int]:
    """The ids of the records in a log file's content; fails on a torn record."""
    assert data == b"" or data.endswith(b"\n"), f"the file ends with a torn line: {data[-200:]!r}"
    lines = data.decode("utf-8").splitlines()
    ids: List[int] = []
    if fmt == "json":
        for line in lines:
            ids.append(json.loads(line)["i"])  # a torn line does not parse
        return ids
    blocks: List[List[str]] = []
    for line in lines:
        if line.startswith("  "):
            assert blocks, f"a continuation line without its record: {line!r}"
            blocks[-1].append(line)
        else:
            blocks.append([line])
    for block in blocks:
        match = _TEXT_HEAD.match(block[0])
        assert match, f"a torn record: {block!r}"
        i = int(match.group(1))
        if i % 3 == 0:  # the traceback is whole: it ends with the exception
            assert block[-1] == f"  ValueError: boom {i}", f"a torn record: {block!r}"
        else:
            assert len(block) == 1, block
        ids.append(i)
    return ids


def _assert_each_record_in_one_place(directory: Path, out: Dict[str, object], n: int, fmt: str) -> int:
    in_files: List[int] = []
    for path in sorted(directory.iterdir()):
        if not path.name.startswith("."):
            in_files.extend(_records_in(path.read_bytes(), fmt))
    fallback = list(out["fallback"])  # type: ignore[call-overload]
    assert len(in_files) == len(set(in_files)), "a record was written to the file twice"
    assert len(fallback) == len(set(fallback)), "a record was sent to the fallback twice"
    both = set(in_files) & set(fallback)
    assert not both, f"{len(both)} records are in the file AND in the fallback"
    assert set(in_files) | set(fallback) == set(range(n)), "a record was lost"
    assert out["counted"] == len(fallback) and out["dropped"] == 0
    return len(fallback)


@pytest.mark.parametrize(
    ("fmt", "dispatch", "rotation"),
    [
        ("json", "background", "-"),  # whole batches, formatted at once
        ("text", "background", "-"),  # records of several lines
        ("json", "sync", "-"),  # one record per write
        ("json", "background", "64 KB"),  # the rotating write path
    ],
)
def test_disk_full_every_record_in_exactly_one_place(small_fs: Path, fmt: str, dispatch: str, rotation: str) -> None:
    n = 4000  # about 600 KB of lines for a 256 KiB filesystem
    proc = run_python(FILL, str(small_fs / "app.log"), str(n), fmt, dispatch, rotation, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    sent = _assert_each_record_in_one_place(small_fs, out, n, fmt)
    assert 0 < sent < n  # the disk did fill up, and it held what fitted
    assert "No space left on device" in proc.stderr  # reported


NO_NEW_FILE = r"""
import json, sys
import micktrace
from micktrace.formatters.json import JSONFormatter
from micktrace.handlers.file import FileHandler
from micktrace.handlers.memory import MemoryHandler
from micktrace.handlers.stats import stats_of

memory, fallback = MemoryHandler(), MemoryHandler()
micktrace.configure(format="json", dispatch="sync", fallback=fallback, handlers=[memory])
log = micktrace.get_logger("split")
for i in range(40):
    log.info("record", i=i)
records = memory.records
handler = FileHandler(sys.argv[1], rotation="1 KB", formatter=JSONFormatter())
handler.handle_batch(records[:5])  # about 550 bytes
handler.handle_batch(records[5:])  # crosses the limit: split, rotate, no new file
stats = stats_of(handler)
print(json.dumps({"fallback": [r.data["i"] for r in fallback.records], "counted": stats.fallback,
                  "dropped": stats.dropped, "failed": stats.failed}))
"""


def test_a_batch_split_at_the_limit_when_the_new_file_cannot_be_created(few_inodes_fs: Path) -> None:
    # the first part goes into the current file, which is rotated; creating the
    # new one fails (no inode left): the rest goes to the fallback, and only the rest
    proc = run_python(NO_NEW_FILE, str(few_inodes_fs / "app.log"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    sent = _assert_each_record_in_one_place(few_inodes_fs, out, 40, "json")
    assert 0 < sent < 35 and out["failed"] == 1
    assert [p.name for p in few_inodes_fs.iterdir() if p.name.startswith("app.2")]  # it did rotate


# ---------------------------------------------------------------------------
# compression after shutdown() and after a process was killed (four processes
# rotating, compressing and shutting down: test_file_handler.py)


def test_leftovers_of_a_killed_compressor_are_cleaned_at_the_next_start(tmp_path: Path) -> None:
    # a process killed while compressing left its temporary file and the original
    original = tmp_path / "app.2024-01-01_00-00-00_000000.log"
    original.write_bytes(b"from a process that was killed\n")
    child = subprocess.Popen(["sleep", "0"])
    child.wait()  # a pid that is dead now
    temp = tmp_path / f"{original.name}.gz.{child.pid}.tmp"
    temp.write_bytes(b"\x1f\x8b half")
    handler = FileHandler(tmp_path / "app.log", rotation="1 MB", compression="gz")
    try:
        assert handler.wait_for_compression(30)
    finally:
        handler.close()
    names = sorted(os.listdir(tmp_path))
    assert names == sorted([".app.log.lock", "app.log", original.name + ".gz"])
    assert gzip.decompress((tmp_path / (original.name + ".gz")).read_bytes()) == b"from a process that was killed\n"


def test_close_finishes_the_compression_it_started(tmp_path: Path) -> None:
    handler = FileHandler(tmp_path / "app.log", rotation="2 MB", compression="gz")
    for i in range(120):  # 12 MB in batches: the writer runs ahead of the compressor
        handler.write_lines([f"line {i} {j} " + "q" * 86 for j in range(1000)])
    handler.close()  # no wait_for_compression()
    names = sorted(os.listdir(tmp_path))
    rotated = [name for name in names if name.startswith("app.2")]
    assert len(rotated) == 5 and all(name.endswith(".log.gz") for name in rotated), names
    assert not [name for name in names if name.endswith(".tmp")]


MULTIBYTE = [f"line {i} " + "é€" * (i % 30) for i in range(300)]  # 2 and 3 bytes a character
SEVERAL_LINES = [f"line {i}" + "".join(f"\n  detail {i}.{j}" for j in range(i % 4)) for i in range(300)]


@pytest.mark.parametrize("records", [MULTIBYTE, SEVERAL_LINES], ids=["multibyte", "several-lines"])
def test_a_batch_is_split_at_the_limit_on_whole_records(tmp_path: Path, records: List[str]) -> None:
    handler = FileHandler(tmp_path / "app.log", rotation=300)
    for k in range(0, 300, 50):
        handler.write_lines(records[k : k + 50])
    handler.close()
    names = sorted(name for name in os.listdir(tmp_path) if name.startswith("app.2"))
    found: List[str] = []
    for name in [*names, "app.log"]:
        data = (tmp_path / name).read_bytes()
        assert len(data) <= 300, name
        text = data.decode("utf-8")  # split between a character's bytes: fails to decode
        assert text.startswith("line "), f"{name} starts inside a record"
        found.extend("line " + block for block in text[len("line ") :].rstrip("\n").split("\nline "))
    assert found == records
