"""``micktrace view``: the options, and the loop that reads, filters and prints.

Imports from micktrace: formatters.text (the colour decision) and the viewer's
own modules.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO, Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from .expressions import (
    UsageError,
    compile_expression,
    grep_check,
    is_expression,
    level_check,
    logger_check,
    parse_level,
    parse_when,
    required_check,
    time_check,
)
from .follow import file_batches, follow_batches
from .parse import parse_line
from .render import Renderer

DESCRIPTION = """\
Show JSON and logfmt log lines (micktrace, structlog, loguru, python-json-logger,
ECS, Datadog, GCP) as aligned, coloured text, filtered by level, logger, time,
text and field expressions. Reads stdin when no FILE is given.

An argument that is not an existing file and holds an operator is a field
expression: KEY OP VALUE with OP one of = != > < >= <= ~ (regex) !~, for
example user_id=42 latency_ms>100 'logger~^app\\.' http.status>=500.
Numbers compare as numbers; several expressions must all hold.
Lines that are neither JSON nor logfmt pass through as they are, unless a
filter that needs fields (--level, --logger, --since, --until, an expression)
is given: then they are left out. --grep applies to every line."""


def build_parser(prog: str = "micktrace view") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("args", nargs="*", metavar="FILE|EXPR", help="log files (- for stdin) and field expressions")
    parser.add_argument("-f", "--follow", action="store_true", help="follow the files as they grow, across rotation")
    parser.add_argument("-l", "--level", help="only records at this level or above (a name or a number)")
    parser.add_argument(
        "--logger", action="append", default=[], metavar="NAME", help="only this logger and those below it (repeatable)"
    )
    parser.add_argument("--since", metavar="WHEN", help="only records from then on: 30s, 10m, 2h, 1d ago, or ISO 8601")
    parser.add_argument("--until", metavar="WHEN", help="only records up to then (same forms as --since)")
    parser.add_argument(
        "-g", "--grep", action="append", default=[], metavar="TEXT", help="only lines holding TEXT (repeatable: any)"
    )
    parser.add_argument("-i", "--ignore-case", action="store_true", help="--grep ignores case")
    parser.add_argument("--json", action="store_true", help="print the matching lines unchanged (for piping)")
    color = parser.add_mutually_exclusive_group()
    color.add_argument("--color", dest="color", action="store_true", default=None, help="colour even when not a TTY")
    color.add_argument("--no-color", dest="color", action="store_false", help="never colour")
    parser.add_argument(
        "--interval", type=float, default=0.1, metavar="SECONDS", help="how often -f looks for new lines (0.1)"
    )
    return parser


class Selection:
    """The filters of one run, compiled: raw-line checks first, then field checks."""

    def __init__(self, options: argparse.Namespace, expressions: Sequence[str]) -> None:
        self.grep: Optional[Callable[[bytes], bool]] = None
        self.prechecks: List[Callable[[bytes], bool]] = []
        self.checks: List[Callable[[Dict[str, Any]], bool]] = []
        if options.grep:
            self.grep = grep_check(options.grep, options.ignore_case)
        if options.level is not None:
            check, pre = level_check(parse_level(options.level))
            self._add(check, pre)
        if options.logger:
            check, pre = logger_check(options.logger)
            self._add(check, pre)
        if options.since is not None or options.until is not None:
            since = None if options.since is None else parse_when(options.since)
            until = None if options.until is None else parse_when(options.until)
            self._add(time_check(since, until), None)
        needles = []
        for text in expressions:
            check, needle = compile_expression(text)
            self._add(check, None)
            if needle is not None:
                needles.append(needle)
        if needles:
            self.prechecks.append(required_check(needles))
        #: whether lines without fields are left out
        self.needs_fields = bool(self.checks)

    def _add(self, check: Callable[[Dict[str, Any]], bool], pre: Optional[Callable[[bytes], bool]]) -> None:
        self.checks.append(check)
        if pre is not None:
            self.prechecks.append(pre)


def _all(checks: Sequence[Callable[[Any], bool]]) -> Optional[Callable[[Any], bool]]:
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    found = tuple(checks)

    def every(value: Any) -> bool:
        for check in found:
            if not check(value):
                return False
        return True

    return every


def select(batch: Iterable[bytes], sel: Selection, parsed: bool = False) -> Iterator[Tuple[bytes, Any]]:
    """(raw line, its fields or None) for the lines of *batch* that match; the
    fields are parsed only when a check needs them or *parsed* asks for them
    (else they are None)."""
    grep = sel.grep
    pre = _all(sel.prechecks)
    check = _all(sel.checks)
    parse = parse_line
    for raw in batch:
        if grep is not None and not grep(raw):
            continue
        if pre is not None and not pre(raw):
            continue
        if check is not None:
            data = parse(raw)
            if data is None or not check(data):
                continue
            yield raw, data
        else:
            yield raw, (parse(raw) if parsed else None)


def select_raw(batch: Iterable[bytes], sel: Selection) -> List[bytes]:
    """The lines of *batch* that match (the ``--json`` path: nothing is rendered)."""
    return [raw for raw, _ in select(batch, sel)]


def render_batch(batch: Iterable[bytes], sel: Selection, renderer: Renderer) -> List[bytes]:
    """The display of the matching lines of *batch*; other text passes through as it is."""
    chosen = list(select(batch, sel, parsed=True))
    renderer.fit([data for _, data in chosen if data is not None])
    out = []
    for raw, data in chosen:
        if data is None:
            out.append(raw + b"\n")
            continue
        try:
            text = renderer.render(data)
        except Exception:  # a record shaped in a way nobody foresaw is shown as written
            out.append(raw + b"\n")
            continue
        out.append(text.encode("utf-8", "replace"))
    return out


def _sources(files: Sequence[str], follow: bool, interval: float) -> Iterator[List[bytes]]:
    if not files:
        yield from file_batches("-")
        return
    if follow:
        named = [f for f in files if f != "-"]
        if "-" in files:
            yield from file_batches("-")
        yield from follow_batches(named, interval)
        return
    for path in files:
        yield from file_batches(path)


def run(options: argparse.Namespace, files: Sequence[str], expressions: Sequence[str], out: IO[bytes]) -> int:
    sel = Selection(options, expressions)
    batches = _sources(files, options.follow, options.interval)
    if options.json:
        for batch in batches:
            matched = [raw + b"\n" for raw, _ in select(batch, sel)]
            if matched:
                out.write(b"".join(matched))
                out.flush()
        return 0
    color = options.color
    if color is None:
        from ..formatters.text import stream_supports_color

        color = stream_supports_color(sys.stdout)
    renderer = Renderer(bool(color))
    for batch in batches:
        shown = render_batch(batch, sel, renderer)
        if shown:
            out.write(b"".join(shown))
            out.flush()
    return 0


def split_arguments(args: Sequence[str], follow: bool) -> tuple[List[str], List[str]]:
    """(files, expressions): an existing file (or ``-``) is a file, else an
    argument with an operator is an expression, else a file (that ``-f`` waits for)."""
    files: List[str] = []
    expressions: List[str] = []
    for arg in args:
        if arg == "-" or os.path.exists(arg):
            files.append(arg)
        elif is_expression(arg):
            expressions.append(arg)
        elif follow:
            files.append(arg)
        else:
            raise UsageError(f"no such file, and not a field expression: {arg!r}")
    return files, expressions


def main(argv: Optional[Sequence[str]] = None, prog: str = "micktrace view") -> int:
    parser = build_parser(prog)
    options = parser.parse_intermixed_args(argv)
    out = sys.stdout.buffer
    try:
        files, expressions = split_arguments(options.args, options.follow)
        if options.interval <= 0:
            raise UsageError("--interval must be above 0")
        return run(options, files, expressions, out)
    except UsageError as exc:
        parser.error(str(exc))
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            _quiet_stdout()
            return 0
        sys.stderr.write(f"{prog}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0  # pragma: no cover - parser.error exits


def _quiet_stdout() -> None:
    """After the reader went away (``| head``): point stdout at /dev/null so the
    interpreter's last flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
