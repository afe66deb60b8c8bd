"""The pytest plugin: the micktrace_logs fixture, run in real pytest sessions (pytester)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

# keep the inner sessions lean and quiet: no cache, no unrelated plugins
OPTIONS = ("-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:benchmark", "-p", "no:hypothesispytest")

LIBRARY = """
import micktrace

log = micktrace.get_logger("shop.orders")   # created at import time, before any test


def place_order(order_id, user):
    log.debug("validating", order_id=order_id)
    with micktrace.context(user=user):
        log.info("Order placed", order_id=order_id, total=9.5)
    if order_id < 0:
        log.error("negative id", order_id=order_id)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(shop=LIBRARY)
    pytester.syspathinsert()
    return pytester


def test_fixture_captures_every_level_from_loggers_made_at_import_time(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_orders="""
        import re
        import micktrace
        import shop

        def test_order(micktrace_logs):
            micktrace.configure(level="ERROR")          # the app's level does not hide records from the test
            shop.place_order(7, "ann")
            assert micktrace_logs.messages == ["validating", "Order placed"]
            (placed,) = micktrace_logs.assert_logged(
                "Order placed", level="INFO", logger="shop", order_id=7, user="ann"
            )
            assert placed.data["total"] == 9.5
            assert micktrace_logs.filter(level="DEBUG")[0].message == "validating"
            assert micktrace_logs.filter(min_level="INFO", logger="shop.orders") == [placed]
            assert micktrace_logs.count(re.compile(r"^Order \\w+$")) == 1
            assert micktrace_logs.filter(logger="shop.order") == []   # a prefix is not a parent
            micktrace_logs.assert_not_logged(level="ERROR")
            micktrace_logs.assert_logged(count=2, logger="shop")
            micktrace_logs.clear()
            assert micktrace_logs.records == []
        """
    )
    result = project.runpytest(*OPTIONS)
    result.assert_outcomes(passed=1)


def test_failure_messages_list_what_was_captured(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_failing="""
        import shop

        def test_wrong_user(micktrace_logs):
            shop.place_order(7, "ann")
            micktrace_logs.assert_logged("Order placed", user="bob")

        def test_unexpected_error(micktrace_logs):
            shop.place_order(-1, "ann")
            micktrace_logs.assert_not_logged(min_level="ERROR")

        def test_wrong_count(micktrace_logs):
            shop.place_order(1, "ann")
            micktrace_logs.assert_logged("Order", count=2)
        """
    )
    result = project.runpytest(*OPTIONS)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: no record matched message~'Order placed', user='bob'",
            "*captured 2 records:",
            "*DEBUG    ?shop.orders? validating order_id=7",
            "*INFO     ?shop.orders? Order placed user=ann order_id=7 total=9.5",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*1 unexpected records matched min_level=ERROR:", "*ERROR    ?shop.orders? negative id*"]
    )
    result.stdout.fnmatch_lines(["*1 records instead of 2 matched message~'Order'*"])
    # the failure report has a section with the records
    result.stdout.fnmatch_lines(["*- Captured micktrace call -*"])


def test_background_dispatch_and_threads_are_captured(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_background="""
        import threading
        import micktrace
        import shop

        def test_background(micktrace_logs, tmp_path):
            micktrace.configure(dispatch="background",
                                handlers=[{"type": "file", "config": {"path": str(tmp_path / "app.log")}}])
            threads = [threading.Thread(target=shop.place_order, args=(n, "t")) for n in range(5)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            # records are taken in the caller, before the background worker sees them
            assert sorted(r.data["order_id"] for r in micktrace_logs.filter("Order placed")) == list(range(5))
        """
    )
    result = project.runpytest(*OPTIONS)
    result.assert_outcomes(passed=1)


def test_stdlib_records_are_captured_too(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_stdlib="""
        import logging
        import micktrace

        def test_stdlib(micktrace_logs):
            micktrace.configure(capture_stdlib=True)
            try:
                logging.getLogger("urllib3").warning("retrying %s", "GET /", extra={"attempt": 2})
            finally:
                micktrace.configure(capture_stdlib=False)
            micktrace_logs.assert_logged("retrying GET /", logger="urllib3", attempt=2)
        """
    )
    result = project.runpytest(*OPTIONS)
    result.assert_outcomes(passed=1)


def test_plugin_is_registered_by_its_entry_point(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_entry="""
        def test_entry(micktrace_logs, pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("micktrace")
        """
    )
    # a separate interpreter: only the installed entry point can provide the fixture
    result = project.runpytest_subprocess(*OPTIONS)
    result.assert_outcomes(passed=1)


def test_tests_without_the_fixture_are_untouched(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_plain=textwrap.dedent(
            """
            from micktrace import _state

            def test_plain():
                assert _state.captures == ()
            """
        )
    )
    result = project.runpytest(*OPTIONS)
    result.assert_outcomes(passed=1)
