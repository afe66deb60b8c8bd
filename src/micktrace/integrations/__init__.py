"""Bridges to the rest of the ecosystem: stdlib ``logging`` (both ways), thread
pools, web frameworks (ASGI, WSGI, Django), tracing (W3C ``traceparent``,
OpenTelemetry) and pytest.

Nothing here is imported by ``import micktrace``: each module is loaded when
it is first used, and a module that needs an optional library imports it
lazily and raises :class:`micktrace.MissingExtraError` naming the extra.
"""
