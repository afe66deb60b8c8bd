"""Every ```python block of README.md and docs/*.md runs as written.

Each block runs on its own in a fresh interpreter, in a fresh temporary
directory, with this checkout's ``src`` on the path. A block preceded by the
line ``<!-- not run: REASON -->`` is skipped with that reason; a block preceded
by ``<!-- run as a file -->`` is written to a .py file and run as a script
(multiprocessing's spawn start method needs an importable ``__main__``).
A ``sitecustomize`` on the blocks' path refuses connections to anything but
the loopback interface, so a block can never reach the network.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TIMEOUT = 60

# Imported by every block's interpreter (and its children): only loopback connections.
_GUARD = """
import ipaddress, socket

def _loopback_only(address):
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        host = address[0]
        try:
            ok = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise PermissionError(f"docs blocks may only connect to 127.0.0.1, not {host!r}")

_connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto

def connect(self, address):
    _loopback_only(address)
    return _connect(self, address)

def connect_ex(self, address):
    _loopback_only(address)
    return _connect_ex(self, address)

def sendto(self, data, *args):
    _loopback_only(args[-1])
    return _sendto(self, data, *args)

socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
"""

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})(?P<info>.*)$")
_NOT_RUN = re.compile(r"^\s*<!--\s*not run:(?P<reason>.*?)-->\s*$")
_AS_FILE = re.compile(r"^\s*<!--\s*run as a file\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # 1-based line of the opening fence
    code: str
    not_run: str | None  # the reason, "" if the marker has none, None if unmarked
    as_file: bool

    @property
    def id(self) -> str:
        return f"{self.doc.name}:{self.line}"


def _marker(lines: list[str], fence: int) -> tuple[str | None, bool]:
    """The marker on the last non-blank line before the fence, if any."""
    i = fence - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    if i < 0:
        return None, False
    match = _NOT_RUN.match(lines[i])
    if match:
        return match.group("reason").strip(), False
    return None, bool(_AS_FILE.match(lines[i]))


def extract(doc: Path) -> list[Block]:
    """The python blocks of one markdown file (fences may be indented in lists)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, ticks = match.group("indent"), match.group("ticks")
        info = match.group("info").strip().split()
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines):
            close = _FENCE.match(lines[i])
            if (
                close
                and close.group("ticks")[0] == ticks[0]
                and len(close.group("ticks")) >= len(ticks)
                and not close.group("info").strip()
            ):
                break
            body.append(lines[i])
            i += 1
        else:
            raise AssertionError(f"{doc.name}:{start + 1}: unclosed code fence")
        i += 1
        if info[:1] not in (["python"], ["py"]):
            continue
        stripped = [
            line[len(indent):] if line.startswith(indent) else line.lstrip()
            for line in body
        ]
        not_run, as_file = _marker(lines, start)
        blocks.append(
            Block(doc, start + 1, textwrap.dedent("\n".join(stripped)) + "\n", not_run, as_file)
        )
    return blocks


BLOCKS = [block for doc in DOCS for block in extract(doc)]


def test_blocks_were_found() -> None:
    # The extractor finds blocks in the README and across several docs.
    assert len(BLOCKS) >= 40
    assert any(block.doc.name == "README.md" for block in BLOCKS)
    assert len({block.doc for block in BLOCKS}) >= 10


def test_extract_handles_indented_fences_and_markers(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "intro\n"
        "```python\nprint(1)\n```\n"
        "- item\n\n"
        "    ```python\n    if True:\n        print(2)\n    ```\n"
        "<!-- not run: needs a cloud account -->\n"
        "```python\nprint(3)\n```\n"
        "<!-- run as a file -->\n\n"
        "```python\nprint(4)\n```\n"
        "```toml\nx = 1\n```\n",
        encoding="utf-8",
    )
    blocks = extract(doc)
    assert [b.line for b in blocks] == [2, 7, 12, 17]
    assert blocks[1].code == "if True:\n    print(2)\n"
    assert blocks[2].not_run == "needs a cloud account"
    assert blocks[3].as_file and blocks[3].not_run is None
    assert not blocks[0].as_file and blocks[0].not_run is None


def _run(block: Block, cwd: Path) -> subprocess.CompletedProcess[str]:
    guard = cwd / "_guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(_GUARD, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(guard), str(ROOT / "src")])
    env["MICKTRACE_DETECT"] = "0"
    env.pop("PYTHONSTARTUP", None)
    if block.as_file:
        script = cwd / "example.py"
        script.write_text(block.code, encoding="utf-8")
        argv = [sys.executable, str(script)]
    else:
        argv = [sys.executable, "-c", block.code]
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_blocks_cannot_reach_the_network(tmp_path: Path) -> None:
    code = (
        "import socket\n"
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "socket.create_connection(server.getsockname(), timeout=5).close()\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=5)\n"
        "except PermissionError as exc:\n"
        "    print('refused:', exc)\n"
    )
    result = _run(Block(tmp_path / "x.md", 1, code, None, False), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "refused: docs blocks may only connect to 127.0.0.1" in result.stdout


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_block_runs(block: Block, tmp_path: Path) -> None:
    if block.not_run is not None:
        assert block.not_run, f"{block.id}: '<!-- not run: -->' needs a reason"
        pytest.skip(f"{block.id}: {block.not_run}")
    try:
        result = _run(block, tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.id}: did not finish in {TIMEOUT} s")
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-25:])
        pytest.fail(
            f"{block.doc.relative_to(ROOT)}:{block.line}: exit code {result.returncode}\n"
            f"--- stderr (tail) ---\n{tail}\n--- stdout (tail) ---\n{result.stdout[-800:]}",
            pytrace=False,
        )
