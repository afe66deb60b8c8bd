"""``python -m micktrace``: a demo of the output formats, version info, and the log
viewer (``view``, in micktrace.viewer, imported only when asked for)."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def demo() -> None:
    """Log a few records in each format, with context, bound fields, a masked
    secret and an exception."""
    import micktrace

    out = sys.stdout
    for fmt in ("text", "json", "logfmt"):
        out.write(f"\n--- format={fmt} ---\n")
        out.flush()
        micktrace.configure(
            reset=True,
            level="DEBUG",
            format=fmt,
            service="demo-app",
            version="1.0.0",
            handlers=[{"type": "console", "stream": "stdout"}],
        )
        log = micktrace.get_logger("demo")
        log.info("Application started", env="development")
        log.debug("Cache warmed", entries=1024, hit_ratio=0.93)
        log.info("User signed in", user="ann", password="hunter2")  # masked by default
        with micktrace.context(request_id="req-42", user_id=456):
            request_log = log.bind(endpoint="/api/orders")
            request_log.info("Order placed", order_id="A-1001", amount=99.5, currency="USD")
            request_log.warning("Slow query", table="orders", ms=812)
        try:
            inventory: dict[str, int] = {}
            inventory["missing"] += 1
        except KeyError:
            log.exception("Lookup failed", key="missing")
    micktrace.reset()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m micktrace", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="show text, JSON and logfmt output")
    sub.add_parser("version", help="print the version")
    view = sub.add_parser("view", help="show and filter JSON / logfmt log files", add_help=False)
    view.add_argument("rest", nargs=argparse.REMAINDER)
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["view"]:  # the viewer parses its own options (its -h included)
        from .viewer import main as view_main

        return view_main(args_list[1:], prog="micktrace view")
    args = parser.parse_args(args_list)
    if args.command == "demo":
        demo()
        return 0
    if args.command == "view":  # reached only through an abbreviation argparse accepted
        from .viewer import main as view_main

        return view_main(args.rest, prog="micktrace view")
    if args.command == "version":
        import micktrace

        print(micktrace.__version__)
        return 0
    parser.print_help()
    return 0
