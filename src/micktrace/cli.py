"""The ``micktrace`` command (also ``python -m micktrace``): a demo of the output
formats, version information, and the log viewer (``view``, in micktrace.viewer,
imported only when asked for).

May import: the public package (lazily), _native, serialize.
"""

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


DESCRIPTION = "micktrace: structured, fast, zero-configuration logging for Python."


def program_name(argv0: Optional[str] = None) -> str:
    """The program as it was invoked: ``python -m micktrace`` or the script's name."""
    import os

    arg = sys.argv[0] if argv0 is None else argv0
    base = os.path.basename(arg or "")
    if not base or base in ("__main__.py", "-c") or base.startswith("python"):
        return "python -m micktrace"
    return base[:-3] if base.endswith(".py") else base


def version_report() -> str:
    """The version, the Python running it, and whether the C speedup and orjson are in use."""
    import importlib.util
    import platform

    import micktrace

    from . import _native
    from .serialize import _orjson_module

    if _native.available():
        speedup = "in use"
    elif _native._disabled() and importlib.util.find_spec("micktrace._speedups") is not None:
        speedup = f"built but turned off ({_native.ENV_NO_SPEEDUPS} is set)"
    else:
        speedup = "not built (pure Python)"
    orjson = _orjson_module()
    if orjson is not None:
        json_line = f"orjson {getattr(orjson, '__version__', '?')}"
    else:
        json_line = "stdlib json (orjson not installed)"
    return (
        f"micktrace {micktrace.__version__}\n"
        f"python {platform.python_version()} ({platform.python_implementation()}, {sys.platform})\n"
        f"C speedup: {speedup}\n"
        f"JSON encoder: {json_line}\n"
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=program_name(), description=DESCRIPTION)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="show text, JSON and logfmt output")
    sub.add_parser("version", help="print the version, and whether the C speedup and orjson are in use")
    view = sub.add_parser("view", help="show and filter JSON / logfmt log files", add_help=False)
    view.add_argument("rest", nargs=argparse.REMAINDER)
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["view"]:  # the viewer parses its own options (its -h included)
        from .viewer import main as view_main

        return view_main(args_list[1:], prog=f"{program_name()} view")
    args = parser.parse_args(args_list)
    if args.version:
        import micktrace

        print(micktrace.__version__)
        return 0
    if args.command == "demo":
        demo()
        return 0
    if args.command == "view":  # reached only through an abbreviation argparse accepted
        from .viewer import main as view_main

        return view_main(args.rest, prog=f"{program_name()} view")
    if args.command == "version":
        sys.stdout.write(version_report())
        return 0
    parser.print_help()
    return 0
