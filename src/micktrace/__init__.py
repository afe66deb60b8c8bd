"""micktrace: structured logging that is fast, safe, and zero-configuration.

>>> import micktrace
>>> log = micktrace.get_logger(__name__)
>>> log.info("User login", user_id=12345, success=True)  # doctest: +SKIP

Importing micktrace changes nothing global: no handlers on the stdlib root
logger, no threads, no files, no excepthook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .context import (
    acontext,
    acorrelation,
    clear_context,
    context,
    correlation,
    get_context,
    new_correlation_id,
    set_context,
    unset_context,
    wrap,
)
from .errors import ConfigError, MissingExtraError
from .levels import LogLevel
from .logger import Logger, get_logger, getLogger
from .record import LogRecord

if TYPE_CHECKING:  # the names below are imported on first access (see __getattr__)
    from . import formatters, handlers, integrations, testing, types  # noqa: F401
    from .catching import catch
    from .config import (
        Config,
        basic_config,
        config_report,
        configure,
        disable,
        enable,
        export_settings,
        import_settings,
        reset,
    )
    from .config.reload import configure_from_file
    from .dispatch import aflush, flush, flush_on_signals, shutdown
    from .monitoring import health, metrics

__version__ = "2.0.0.dev0"

# Public names whose modules are imported on first access, so that
# `import micktrace` stays cheap (configuration, dispatch and formatters load
# when the application first logs or configures).
_LAZY_CORE = {
    "Config": "micktrace.config",
    "basic_config": "micktrace.config",
    "configure": "micktrace.config",
    "configure_from_file": "micktrace.config.reload",
    "config_report": "micktrace.config",
    "disable": "micktrace.config",
    "enable": "micktrace.config",
    "export_settings": "micktrace.config",
    "import_settings": "micktrace.config",
    "reset": "micktrace.config",
    "aflush": "micktrace.dispatch",
    "flush": "micktrace.dispatch",
    "flush_on_signals": "micktrace.dispatch",
    "shutdown": "micktrace.dispatch",
    "health": "micktrace.monitoring",
    "metrics": "micktrace.monitoring",
}
_LAZY_SUBMODULES = ("formatters", "handlers", "integrations", "testing", "types")


# stdlib bridge, executors, tracing: public name -> module, imported on first access
_LAZY_ECOSYSTEM = {
    "intercept_stdlib": "micktrace.integrations.stdlib",
    "StdlibHandler": "micktrace.integrations.stdlib",
    "StdlibFormatter": "micktrace.integrations.stdlib",
    "StdlibForwardHandler": "micktrace.integrations.stdlib_out",
    "ContextExecutor": "micktrace.integrations.executors",
    "install_context_executor": "micktrace.integrations.executors",
    "run_in_executor": "micktrace.integrations.executors",
    "TraceParent": "micktrace.integrations.tracing",
    "parse_traceparent": "micktrace.integrations.tracing",
    "new_traceparent": "micktrace.integrations.tracing",
    "current_traceparent": "micktrace.integrations.tracing",
    "trace_context": "micktrace.integrations.tracing",
    "outgoing_headers": "micktrace.integrations.tracing",
    "catch": "micktrace.catching",
}


def __getattr__(name: str) -> Any:
    # optional pieces are imported on first use so `import micktrace` stays cheap
    import importlib

    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"micktrace.{name}")
        globals()[name] = module
        return module
    module_name = _LAZY_CORE.get(name) or _LAZY_ECOSYSTEM.get(name)
    if module_name is not None:
        value = getattr(importlib.import_module(module_name), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'micktrace' has no attribute {name!r}")


__all__ = [
    "catch",
    "Config",
    "ConfigError",
    "LogLevel",
    "LogRecord",
    "Logger",
    "MissingExtraError",
    "acontext",
    "acorrelation",
    "aflush",
    "basic_config",
    "clear_context",
    "configure",
    "configure_from_file",
    "config_report",
    "context",
    "correlation",
    "disable",
    "enable",
    "export_settings",
    "flush",
    "flush_on_signals",
    "health",
    "import_settings",
    "metrics",
    "formatters",
    "getLogger",
    "get_context",
    "get_logger",
    "handlers",
    "new_correlation_id",
    "reset",
    "set_context",
    "shutdown",
    "testing",
    "types",
    "unset_context",
    "wrap",
]
