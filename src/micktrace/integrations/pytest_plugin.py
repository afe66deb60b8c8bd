"""pytest plugin (registered by the ``pytest11`` entry point): the
``micktrace_logs`` fixture.

.. code-block:: python

    def test_login(micktrace_logs):
        login("ann")
        micktrace_logs.assert_logged("User login", level="INFO", user="ann")
        assert not micktrace_logs.filter(min_level="ERROR")

The fixture captures like :func:`micktrace.testing.capture_logs`: every record
at every level, from every logger (also those created at import time, before
the test) and thread, whatever the configured levels, handlers and dispatch
mode (records are taken in the caller, before any background dispatch).
When a test fails, the captured records are shown in a "micktrace" report
section.

The plugin changes nothing in tests that do not use the fixture.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, List, Optional, Pattern, Union

import pytest

from ..levels import LevelLike, level_name, to_level
from ..record import LogRecord
from ..testing import CapturedLogs

MessageMatch = Union[str, Pattern[str], None]

_MISSING = object()


def _describe(record: LogRecord) -> str:
    from ..formatters.text import TextFormatter

    try:
        return TextFormatter(show_time=False).format(record)
    except Exception:  # the report must not fail because a value cannot be shown
        return repr(record)


class MicktraceLogs(CapturedLogs):
    """What the ``micktrace_logs`` fixture gives a test.

    Besides :class:`~micktrace.testing.CapturedLogs` (``records``,
    ``messages``, ``filter(...)``, ``clear()``): ``message`` may be a compiled
    regular expression (searched) as well as a substring; :meth:`assert_logged`
    and :meth:`assert_not_logged` fail with a list of what was captured.
    """

    def filter(  # type: ignore[override]
        self,
        message: MessageMatch = None,
        *,
        level: Optional[LevelLike] = None,
        logger: Optional[str] = None,
        min_level: Optional[LevelLike] = None,
        **fields: Any,
    ) -> List[LogRecord]:
        """Records matching every criterion given: ``message`` (substring or
        compiled pattern), exact ``level``, ``min_level``, ``logger`` (that
        name or a child of it) and field values (record fields, then context,
        then static fields)."""
        return CapturedLogs.filter(self, level=level, logger=logger, message=message, min_level=min_level, **fields)

    def count(self, message: MessageMatch = None, **criteria: Any) -> int:
        """How many records match (same criteria as :meth:`filter`)."""
        return len(self.filter(message, **criteria))

    def assert_logged(
        self, message: MessageMatch = None, *, count: Optional[int] = None, **criteria: Any
    ) -> List[LogRecord]:
        """Assert at least one record (or exactly *count*) matches; return the matches."""
        __tracebackhide__ = True
        found = self.filter(message, **criteria)
        if (count is None and not found) or (count is not None and len(found) != count):
            wanted = "no record" if count is None else f"{len(found)} records instead of {count}"
            raise AssertionError(f"{wanted} matched {self._criteria(message, criteria)}\n{self.report()}")
        return found

    def assert_not_logged(self, message: MessageMatch = None, **criteria: Any) -> None:
        """Assert no record matches."""
        __tracebackhide__ = True
        found = self.filter(message, **criteria)
        if found:
            lines = "\n".join("  " + _describe(r) for r in found)
            raise AssertionError(
                f"{len(found)} unexpected records matched {self._criteria(message, criteria)}:\n{lines}"
            )

    @property
    def lines(self) -> List[str]:
        """The captured records as text lines (level, logger, message, fields)."""
        return [_describe(r) for r in list(self.records)]

    def report(self) -> str:
        """Every captured record, one per line, for failure messages."""
        records = list(self.records)
        if not records:
            return "captured no records"
        return f"captured {len(records)} records:\n" + "\n".join("  " + _describe(r) for r in records)

    @staticmethod
    def _criteria(message: MessageMatch, criteria: Any) -> str:
        parts = []
        if message is not None:
            parts.append(f"message~{message.pattern if isinstance(message, re.Pattern) else message!r}")
        for key, value in criteria.items():
            if key in ("level", "min_level") and value is not None:
                parts.append(f"{key}={level_name(to_level(value))}")
            else:
                parts.append(f"{key}={value!r}")
        return ", ".join(parts) or "(anything)"


_CAPTURE_KEY = "_micktrace_logs"


@pytest.fixture
def micktrace_logs(request: pytest.FixtureRequest) -> Iterator[MicktraceLogs]:
    """Every micktrace record logged during the test (see :class:`MicktraceLogs`)."""
    captured = MicktraceLogs()
    setattr(request.node, _CAPTURE_KEY, captured)
    with captured:
        yield captured


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> None:
    # added before the report is built, so it appears with the failure
    captured: Any = getattr(item, _CAPTURE_KEY, _MISSING)
    if captured is _MISSING or call.when != "call" or call.excinfo is None:
        return
    try:
        item.add_report_section("call", "micktrace", captured.report())
    except Exception:
        pass


__all__ = ["MicktraceLogs", "micktrace_logs"]
