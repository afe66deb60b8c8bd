"""Masking on the background worker (issue 4): with one background handler and no
user processor, the worker masks the records it takes off the queue instead of
the caller. These tests check the promise is unchanged: every record is masked
exactly once, before any handler, processor or capture sees it, across
reconfigurations, overflow and the paths that mask in the caller."""

from __future__ import annotations

import threading
from typing import Any, List

import micktrace
from micktrace.config import current_config
from micktrace.formatters import JSONFormatter
from micktrace.handlers import MemoryHandler
from micktrace.masking import Masker
from micktrace.record import LogRecord
from micktrace.testing import capture_logs

R = "[REDACTED]"
CARD = "4111111111111111"


class GatedHandler(MemoryHandler):
    """A memory handler whose batches wait for a gate: records stay queued."""

    def __init__(self) -> None:
        super().__init__(formatter=JSONFormatter())
        self.gate = threading.Event()
        self.seen_by_handle: List[LogRecord] = []

    def handle_batch(self, records: Any) -> Any:
        self.gate.wait(10)
        self.seen_by_handle.extend(records)
        return super().handle_batch(records)


def _count_masking(monkeypatch: Any) -> List[str]:
    """Record, for every record that goes through the masker's full path (every
    record holding something new, as all records in these tests do), its
    message and the thread that masked it."""
    calls: List[str] = []
    original = Masker._mask_record

    def counting(self: Masker, record: LogRecord) -> LogRecord:
        calls.append(f"{record.message} in {threading.current_thread().name}")
        return original(self, record)

    monkeypatch.setattr(Masker, "_mask_record", counting)
    return calls


def test_one_background_handler_is_masked_by_the_worker(monkeypatch: Any) -> None:
    calls = _count_masking(monkeypatch)
    handler = MemoryHandler(formatter=JSONFormatter())
    cfg = micktrace.configure(handlers=[handler], dispatch="background")
    assert cfg.dispatcher.masks_in_worker
    log = micktrace.get_logger("w")
    log.info("login", password="hunter2", card=CARD, note=f"card {CARD} used")
    assert micktrace.flush()
    (line,) = handler.lines
    assert "hunter2" not in line and CARD not in line
    assert '"password":"[REDACTED]"' in line
    assert calls == ["login in micktrace-MemoryHandler"]


def test_the_caller_masks_when_there_is_more_than_one_destination(monkeypatch: Any) -> None:
    calls = _count_masking(monkeypatch)
    cfg = micktrace.configure(
        handlers=[{"type": "memory", "dispatch": "background"}, {"type": "memory", "dispatch": "sync"}]
    )
    assert not cfg.dispatcher.masks_in_worker
    micktrace.get_logger("w").info("x", token="s3cr3t-value")
    assert micktrace.flush()
    for handler in cfg.handlers:
        (record,) = handler.records  # type: ignore[attr-defined]
        assert record.data["token"] == R
    assert calls == ["x in MainThread"]


def test_user_processors_see_masked_records_so_the_caller_masks() -> None:
    seen: List[Any] = []
    handler = MemoryHandler(formatter=JSONFormatter())
    cfg = micktrace.configure(
        handlers=[handler], dispatch="background", processors=[lambda r: seen.append(dict(r.data)) or r]
    )
    assert not cfg.dispatcher.masks_in_worker
    micktrace.get_logger("w").info("x", token="s3cr3t-value")
    assert micktrace.flush()
    assert seen == [{"token": R}]
    assert handler.records[0].data == {"token": R}


def test_captured_records_are_masked_once_in_the_caller(monkeypatch: Any) -> None:
    calls = _count_masking(monkeypatch)
    handler = MemoryHandler(formatter=JSONFormatter())
    cfg = micktrace.configure(handlers=[handler], dispatch="background", masking={"style": "partial"})
    assert cfg.dispatcher.masks_in_worker
    log = micktrace.get_logger("w")
    with capture_logs() as logs:
        log.info("paid", paid_with=f"card {CARD}", contact="mail jane.doe@example.com")
    assert micktrace.flush()
    (captured,) = logs.records
    (written,) = handler.records
    assert written is captured
    assert captured.data == {"paid_with": "card ************1111", "contact": "mail ***@example.com"}
    assert calls == ["paid in MainThread"]
    # outside capture_logs the general path (%-args) masks in the worker, once
    log.info("user %s paid", "jane.doe@example.com", paid_with=f"card {CARD}")
    assert micktrace.flush()
    last = handler.records[-1]
    assert last.message == "user ***@example.com paid"
    assert last.data == {"paid_with": "card ************1111"}
    assert calls[1:] == ["user jane.doe@example.com paid in micktrace-MemoryHandler"]


def test_queued_records_stay_masked_when_the_configuration_changes() -> None:
    handler = GatedHandler()
    cfg = micktrace.configure(handlers=[handler], dispatch="background")
    assert cfg.dispatcher.masks_in_worker
    log = micktrace.get_logger("w")
    for i in range(20):
        log.info("queued", password=f"pw-{i}-secret")
    # now a second, sync handler: the caller masks from here on, while the 20
    # unmasked records are still in the worker's queue (the gate is closed)
    other = MemoryHandler(formatter=JSONFormatter())
    handler.dispatch_spec = ("background", "handlers[0].dispatch")
    cfg = micktrace.configure(handlers=[handler, other], dispatch="sync")
    assert not cfg.dispatcher.masks_in_worker
    log.info("after", password="pw-after-secret")
    # and masking switched off: records from now on are written as they are
    micktrace.configure(masking=False)
    log.info("unmasked", password="visible-now")
    handler.gate.set()
    assert micktrace.flush()
    lines = handler.lines
    assert len(lines) == 22
    assert not any("secret" in line for line in lines)
    assert sum(R in line for line in lines) == 21
    assert "visible-now" in lines[-1]


def test_overflow_to_a_replaced_worker_is_masked() -> None:
    # a record that finds its worker replaced by a newer configuration is
    # handed to the configuration in force: masked first
    handler = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[handler], dispatch="background")
    old = current_config()
    (worker,) = old.dispatcher.workers
    replacement = MemoryHandler(formatter=JSONFormatter())
    micktrace.configure(handlers=[replacement], dispatch="sync")
    assert worker._stopped
    worker.options.queue_size = 0  # type: ignore[misc]  # the queue is "full": _make_room decides
    record = LogRecord(0.0, 20, "w", "late", {"password": "late-secret"}, {}, {}, None, None, 1, 1)
    worker.put(record)
    (written,) = replacement.records
    assert written.data["password"] == R
