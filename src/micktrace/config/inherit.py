"""The configuration a ``multiprocessing`` child inherits from its parent.

A child started with ``spawn`` or ``forkserver`` is a fresh interpreter: it has
none of the parent's configuration, only its environment. So every time the
configuration changes, :func:`publish` writes the settings, as JSON, into the
environment variable ``MICKTRACE_INHERITED_CONFIG`` (with the parent's pid),
and a child's first log call (or ``current_config()``) adopts them through
:func:`inherited_settings`, as ``micktrace.import_settings`` would.

Only a ``multiprocessing`` child of the process that wrote the variable adopts
it: a program started with ``subprocess`` inherits the variable and ignores it.
Settings that are not plain data (a Handler object, a callable handler or
processor, a formatter object in a spec) cannot cross that way: they are left
out, and the child says so on stderr once. docs/multiprocessing.md has the rules.

May import: _state, _report (nothing else of micktrace).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .._report import report

ENV_INHERIT = "MICKTRACE_INHERITED_CONFIG"
_LEFT_OUT = "__micktrace_left_out__"
_adopting: List[bool] = []  # adopt() is running (called under the configuration lock)


def _plain(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _portable(settings: Mapping[str, Any]) -> Dict[str, Any]:
    """The settings as JSON-able data; what cannot be is replaced by a note."""
    out: Dict[str, Any] = {}
    for key, value in settings.items():
        if hasattr(value, "as_dict"):  # DispatchOptions
            value = value.as_dict()
        if key in ("handlers", "processors") and isinstance(value, (list, tuple)):
            out[key] = [item if _plain(item) else {_LEFT_OUT: _describe(item)} for item in value]
        elif _plain(value):
            out[key] = value
        else:
            out[key] = {_LEFT_OUT: _describe(value)}
    return out


def _describe(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


def publish(settings: Mapping[str, Any]) -> None:
    """Put *settings* where ``spawn``/``forkserver`` children find them (empty
    settings, the zero-config default, remove the variable)."""
    try:
        if not settings:
            os.environ.pop(ENV_INHERIT, None)
            return
        payload = {"pid": os.getpid(), "settings": _portable(settings)}
        text = json.dumps(payload, separators=(",", ":"))
        if os.environ.get(ENV_INHERIT) != text:  # the environment is written only on a change
            os.environ[ENV_INHERIT] = text
    except Exception as exc:  # configure() has succeeded: this never undoes it
        report("publishing the configuration for child processes", exc)


def _ppid_of(pid: int) -> Optional[int]:
    """The parent of process *pid*, where /proc says (Linux); else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _started_by(pid: int) -> bool:
    """True when this process was started through ``multiprocessing`` by *pid*."""
    process = sys.modules.get("multiprocessing.process")
    if process is None:
        return False
    parent = process.parent_process()
    if parent is not None:
        return bool(parent.pid == pid)
    if not getattr(process.current_process(), "_inheriting", False):
        return False
    # still unpickling (the main module is imported now): spawn's parent is the
    # process that spawned this one; forkserver's is the fork server, which
    # that process started
    ppid = os.getppid()
    if ppid == pid:
        return True
    if "multiprocessing.forkserver" in sys.modules:
        grandparent = _ppid_of(ppid)
        return grandparent is None or grandparent == pid
    return False


def inherited_settings() -> Optional[Tuple[Dict[str, Any], List[str]]]:
    """In a ``multiprocessing`` child: the parent's published settings and the
    descriptions of those left out; None anywhere else."""
    raw = os.environ.get(ENV_INHERIT)
    if not raw:
        return None
    if sys.modules.get("multiprocessing.process") is None:
        return None
    try:
        payload = json.loads(raw)
        if not _started_by(int(payload["pid"])):
            return None  # not a multiprocessing child of the process that published it
        settings = dict(payload["settings"])
    except Exception as exc:
        report(f"the configuration inherited in {ENV_INHERIT}", exc)
        return None
    left_out: List[str] = []
    for key in list(settings):
        value = settings[key]
        if isinstance(value, dict) and _LEFT_OUT in value:
            left_out.append(f"{key} ({value[_LEFT_OUT]})")
            del settings[key]
        elif key in ("handlers", "processors") and isinstance(value, list):
            kept = []
            for i, item in enumerate(value):
                if isinstance(item, dict) and _LEFT_OUT in item:
                    left_out.append(f"{key}[{i}] ({item[_LEFT_OUT]})")
                else:
                    kept.append(item)
            if kept or key == "processors":
                settings[key] = kept
            else:
                del settings[key]  # none could cross: the default handler
    return settings, left_out


def adopt(apply: Any) -> bool:
    """Apply the inherited settings with *apply* (``import_settings``); True
    when this process is a child that had some to adopt."""
    if _adopting:
        return False  # a record logged while the inherited configuration is built
    found = inherited_settings()
    if found is None:
        return False
    settings, left_out = found
    _adopting.append(True)
    try:
        apply(settings)
    except Exception as exc:
        report("the configuration inherited from the parent process", exc, "not applied: the defaults are used")
        return False
    finally:
        _adopting.clear()
    if left_out:
        report(
            "the configuration inherited from the parent process",
            None,
            "left out, not plain data: " + "; ".join(left_out)
            + " (pass them with initializer=micktrace.import_settings, see docs/multiprocessing.md)",
        )
    return True


__all__ = ["ENV_INHERIT", "adopt", "inherited_settings", "publish"]
