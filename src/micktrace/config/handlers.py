"""Building handlers from ``handlers=[...]`` entries.

Holds the registry of built-in handler types (network types come from
:mod:`micktrace.handlers.network`'s registry, imported only when used),
:func:`build_handler` (a dict spec, a Handler, an object with ``handle``, or
a callable) and the validation of each spec's keys against the handler's
own options.

May import: errors, levels, filters, formatters, handlers, dispatch.options, masking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from ..dispatch import parse_dispatch
from ..errors import ConfigError
from ..filters import build_filter
from ..formatters import FORMAT_NAMES, Formatter, formatter_for
from ..handlers.base import CallableHandler, Handler, ObjectHandler
from ..handlers.console import ConsoleHandler, RichConsoleHandler
from ..handlers.file import FileHandler
from ..handlers.memory import MemoryHandler, NullHandler
from ..handlers.network import NETWORK_HANDLER_TYPES, network_handler_class
from ..handlers.stdlib_forward import StdlibForwardHandler
from ..levels import to_level

if TYPE_CHECKING:
    from .snapshot import Config

HANDLER_TYPES: Dict[str, type] = {
    "console": ConsoleHandler,
    "stream": ConsoleHandler,
    "file": FileHandler,
    "memory": MemoryHandler,
    "null": NullHandler,
    "rich_console": RichConsoleHandler,
    "rich": RichConsoleHandler,
    "stdlib": StdlibForwardHandler,  # records into the stdlib logging tree
}
#: handler types the spec names whose backends are not built yet
PLANNED_HANDLER_TYPES = {
    "stackdriver": "gcp",
    "gcp": "gcp",
    "sentry": "sentry",
}
#: keys every handler spec may carry besides its type's own options
COMMON_HANDLER_KEYS = ("type", "config", "level", "format", "formatter", "filters", "name", "dispatch")


def previous_handlers(previous: Optional[Config]) -> Tuple[Handler, ...]:
    return previous.handlers if previous is not None else ()


def _required_options(cls: type) -> List[str]:
    import inspect

    init = cls.__dict__.get("__init__") or cls.__init__  # type: ignore[misc]
    return [
        p.name
        for p in inspect.signature(init).parameters.values()
        if p.name != "self" and p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _accepted_options(cls: type) -> List[str]:
    import inspect

    names: List[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.name != "self" and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                if param.name not in names:
                    names.append(param.name)
    return names


def build_handler(spec: Any, index: int, default_format: str) -> Handler:
    """A handler from one entry of ``handlers=[...]``."""
    key = f"handlers[{index}]"
    if isinstance(spec, Handler):
        return spec
    if isinstance(spec, Mapping):
        return _handler_from_dict(dict(spec), key, default_format)
    if hasattr(spec, "handle") and callable(spec.handle):
        return ObjectHandler(spec)
    if callable(spec):
        return CallableHandler(spec)
    raise ConfigError(key, spec, "a dict with 'type', a Handler, an object with handle(record), or a callable")


def _handler_from_dict(spec: Dict[str, Any], key: str, default_format: str) -> Handler:
    htype = spec.get("type")
    known = ", ".join(sorted([*HANDLER_TYPES, *NETWORK_HANDLER_TYPES]))
    if htype in PLANNED_HANDLER_TYPES and htype not in NETWORK_HANDLER_TYPES:
        raise ConfigError(
            f"{key}.type",
            htype,
            f"{known} (the {htype!r} handler is not available yet in this "
            f"version; it will come with the '{PLANNED_HANDLER_TYPES[htype]}' extra)",
        )
    cls = HANDLER_TYPES.get(htype) if isinstance(htype, str) else None
    if cls is None and isinstance(htype, str) and htype in NETWORK_HANDLER_TYPES:
        cls = network_handler_class(htype)
    if cls is None:
        raise ConfigError(f"{key}.type", htype, known)
    options: Dict[str, Any] = {}
    nested = spec.get("config", {})
    if not isinstance(nested, Mapping):
        raise ConfigError(f"{key}.config", nested, "a dict of handler options")
    options.update(nested)
    options.update({k: v for k, v in spec.items() if k not in COMMON_HANDLER_KEYS})
    allowed = [n for n in _accepted_options(cls) if n not in ("formatter", "filters", "level", "name")]
    for name in options:
        if name not in allowed:
            from ..masking import is_sensitive_key

            shown = "[REDACTED]" if is_sensitive_key(str(name)) else options[name]
            raise ConfigError(f"{key}.{name}", shown, f"the options of a {htype!r} handler: {', '.join(allowed)}")

    common: Dict[str, Any] = {}
    if "level" in spec:
        common["level"] = to_level(spec["level"], f"{key}.level")
    if spec.get("name") is not None:
        common["name"] = str(spec["name"])
    if "filters" in spec:
        filters = spec["filters"]
        if not isinstance(filters, (list, tuple)):
            raise ConfigError(f"{key}.filters", filters, "a list of filter dicts or callables")
        common["filters"] = [build_filter(f, f"{key}.filters[{i}]") for i, f in enumerate(filters)]
    formatter = spec.get("formatter")
    fmt = spec.get("format")
    if formatter is not None:
        if not (isinstance(formatter, Formatter) or callable(formatter)):
            raise ConfigError(f"{key}.formatter", formatter, "a Formatter instance or a callable record -> str")
        common["formatter"] = formatter
    elif getattr(cls, "encodes_itself", False) and fmt is None:
        pass  # a network handler writes its backend's format, not the global one
    elif cls is not RichConsoleHandler or fmt not in (None, "rich", "text"):
        name = parse_format(fmt, f"{key}.format") if fmt is not None else default_format
        if name == "rich" and cls is ConsoleHandler:
            cls = RichConsoleHandler
        elif name != "text" or cls is not ConsoleHandler:
            common["formatter"] = formatter_for(name, f"{key}.format")
    for name in _required_options(cls):
        if name not in options:
            raise ConfigError(f"{key}.{name}", None, f"a value: a {htype!r} handler needs {name!r}")
    dispatch_spec = spec.get("dispatch")
    if dispatch_spec is not None:
        parse_dispatch(dispatch_spec, f"{key}.dispatch")  # validate now, merge with the global options later
    try:
        handler: Handler = cls(**options, **common)
        if dispatch_spec is not None:
            handler.dispatch_spec = (dispatch_spec, f"{key}.dispatch")
        return handler
    except ConfigError as exc:
        raise ConfigError(f"{key}.{exc.key}", exc.value, exc.allowed) from None
    except OSError as exc:
        raise ConfigError(f"{key}.path", options.get("path"), f"a path that can be opened ({exc.strerror})") from None




def parse_format(raw: str, key: str = "format") -> str:
    name = raw.strip().lower() if isinstance(raw, str) else raw
    if name not in FORMAT_NAMES:
        raise ConfigError(key, raw, ", ".join(FORMAT_NAMES))
    return name
