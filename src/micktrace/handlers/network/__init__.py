"""Network handlers: the shared delivery engine and one small module per backend.

Holds the registry of network handler types: ``configure(handlers=[{"type":
...}])`` looks a type up here and imports its module only then, so
``import micktrace`` never loads a backend or its SDK. A backend's module
imports its SDK lazily too and raises :class:`micktrace.errors.MissingExtraError`
naming the extra when it is missing.

The engine: :mod:`.engine` (:class:`NetworkHandler`, :class:`BatchResult`),
:mod:`.batching` (limits, backlog), :mod:`.retry` (classification, backoff),
:mod:`.http` (a stdlib HTTP client for the HTTP backends).

May import: nothing at module level (the registry is data).
"""

from __future__ import annotations

import importlib
from typing import Dict, Tuple

#: handler type -> (module, class name, the extra its SDK comes with)
NETWORK_HANDLER_TYPES: Dict[str, Tuple[str, str, str]] = {}


def register_network_type(name: str, module: str, class_name: str, extra: str) -> None:
    """Register a network handler type (built-ins are registered below)."""
    NETWORK_HANDLER_TYPES[name] = (module, class_name, extra)


def network_handler_class(name: str) -> type:
    """The class of network handler type *name* (imports its module)."""
    module, class_name, _extra = NETWORK_HANDLER_TYPES[name]
    cls: type = getattr(importlib.import_module(module), class_name)
    return cls


register_network_type("http", "micktrace.handlers.network.http_json", "HttpJsonHandler", "")
register_network_type("syslog", "micktrace.handlers.network.syslog", "SyslogHandler", "")
register_network_type("otlp", "micktrace.handlers.network.otlp", "OtlpHandler", "opentelemetry")
register_network_type("elasticsearch", "micktrace.handlers.network.elasticsearch", "ElasticsearchHandler", "elastic")
register_network_type("opensearch", "micktrace.handlers.network.elasticsearch", "OpenSearchHandler", "opensearch")
register_network_type("datadog", "micktrace.handlers.network.datadog", "DatadogHandler", "datadog")
register_network_type("newrelic", "micktrace.handlers.network.newrelic", "NewRelicHandler", "newrelic")
register_network_type("cloudwatch", "micktrace.handlers.network.cloudwatch", "CloudWatchHandler", "aws")
register_network_type("azure", "micktrace.handlers.network.azure", "AzureMonitorHandler", "azure")
