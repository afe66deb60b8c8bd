"""Context fields: blocks, decorators, asyncio tasks, threads, correlation ids."""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import pytest

import micktrace
from micktrace.handlers import MemoryHandler


def memory() -> MemoryHandler:
    handler = MemoryHandler()
    micktrace.configure(level="DEBUG", handlers=[handler])
    return handler


def test_context_manager_adds_fields_to_every_record_from_any_logger() -> None:
    mem = memory()
    with micktrace.context(request_id="r-1", user_id=7) as ctx:
        assert ctx == {"request_id": "r-1", "user_id": 7}
        micktrace.get_logger("a").info("one")
        micktrace.get_logger("b.c").bind(k=1).warning("two", n=2)
    micktrace.get_logger("a").info("after")
    records = mem.records
    assert records[0].context == {"request_id": "r-1", "user_id": 7}
    assert records[1].context == {"request_id": "r-1", "user_id": 7}
    assert records[1].data == {"k": 1, "n": 2}  # context stays apart from the record's own fields
    assert records[2].context == {}


def test_context_accepts_a_dict_and_keywords() -> None:
    with micktrace.context({"a": 1, "b": 1}, b=2):
        assert micktrace.get_context() == {"a": 1, "b": 2}


def test_the_dict_yielded_by_the_block_is_a_copy() -> None:
    mem = memory()
    with micktrace.context(a=1) as ctx:
        ctx["injected"] = True
        micktrace.get_logger("x").info("m")
        assert micktrace.get_context() == {"a": 1}
    assert mem.records[0].context == {"a": 1}


def test_nested_blocks_restore_the_outer_state() -> None:
    with micktrace.context(a=1, b=1):
        with micktrace.context(b=2, c=3):
            assert micktrace.get_context() == {"a": 1, "b": 2, "c": 3}
        assert micktrace.get_context() == {"a": 1, "b": 1}
    assert micktrace.get_context() == {}


def test_nested_blocks_restore_the_outer_state_on_exceptions() -> None:
    with micktrace.context(outer=True):
        with pytest.raises(KeyError):
            with micktrace.context(inner=True):
                with micktrace.context(deepest=True):
                    raise KeyError("boom")
        assert micktrace.get_context() == {"outer": True}
    assert micktrace.get_context() == {}


def test_records_keep_the_context_they_were_logged_in() -> None:
    mem = memory()
    log = micktrace.get_logger("snap")
    with micktrace.context(step=1):
        log.info("first")
        with micktrace.context(step=2):
            log.info("second")
        micktrace.set_context(extra=True)
        log.info("third")
    assert [r.context for r in mem.records] == [{"step": 1}, {"step": 2}, {"step": 1, "extra": True}]


def test_context_as_a_decorator() -> None:
    mem = memory()

    @micktrace.context(job="nightly")
    def run(n: int) -> Dict[str, Any]:
        micktrace.get_logger("job").info("running", n=n)
        return micktrace.get_context()

    assert run.__name__ == "run"
    assert run(1) == {"job": "nightly"}
    assert run(2) == {"job": "nightly"}
    assert micktrace.get_context() == {}
    assert [r.context for r in mem.records] == [{"job": "nightly"}] * 2


def test_decorator_restores_context_when_the_function_raises() -> None:
    @micktrace.context(job="failing")
    def fail() -> None:
        raise RuntimeError("no")

    with micktrace.context(outer=1):
        with pytest.raises(RuntimeError):
            fail()
        assert micktrace.get_context() == {"outer": 1}


def test_context_as_an_async_context_manager_and_async_decorator() -> None:
    mem = memory()

    @micktrace.context(layer="decorated")
    async def inner() -> Dict[str, Any]:
        await asyncio.sleep(0)
        micktrace.get_logger("inner").info("inside")
        return micktrace.get_context()

    async def main() -> Dict[str, Any]:
        async with micktrace.acontext(request_id="req_123"):
            async with micktrace.context(user_id=456):
                seen = await inner()
            assert micktrace.get_context() == {"request_id": "req_123"}
        assert micktrace.get_context() == {}
        return seen

    assert asyncio.iscoroutinefunction(inner)
    assert asyncio.run(main()) == {"request_id": "req_123", "user_id": 456, "layer": "decorated"}
    assert mem.records[0].context == {"request_id": "req_123", "user_id": 456, "layer": "decorated"}


def test_async_block_restores_outer_state_on_exceptions() -> None:
    async def main() -> None:
        async with micktrace.acontext(outer=1):
            with pytest.raises(ValueError):
                async with micktrace.acontext(inner=2):
                    await asyncio.sleep(0)
                    raise ValueError
            assert micktrace.get_context() == {"outer": 1}

    asyncio.run(main())


def test_each_asyncio_task_keeps_its_own_context() -> None:
    mem = memory()
    log = micktrace.get_logger("tasks")

    async def handle(request_id: int) -> List[Any]:
        seen = []
        async with micktrace.acontext(request_id=request_id):
            for step in range(5):
                # yield so the tasks interleave
                await asyncio.sleep(0)
                micktrace.set_context(step=step)
                log.info("step")
                seen.append(micktrace.get_context())
        seen.append(micktrace.get_context())
        return seen

    async def main() -> List[List[Any]]:
        with micktrace.context(server="s1"):
            return list(await asyncio.gather(*(handle(i) for i in range(20))))

    results = asyncio.run(main())
    for request_id, seen in enumerate(results):
        for step in range(5):
            assert seen[step] == {"server": "s1", "request_id": request_id, "step": step}
        assert seen[5] == {"server": "s1"}
    assert len(mem.records) == 100
    for record in mem.records:
        assert set(record.context) == {"server", "request_id", "step"}
    by_request: Dict[int, List[int]] = {}
    for record in mem.records:
        by_request.setdefault(record.context["request_id"], []).append(record.context["step"])
    assert by_request == {i: list(range(5)) for i in range(20)}


def test_one_context_instance_shared_by_interleaving_tasks() -> None:
    # a module-level context(...) entered by every request: the first task to
    # enter leaves first, while the second is still inside
    shared = micktrace.context(tenant="acme")

    async def main() -> List[Dict[str, Any]]:
        entered_1, entered_2, left_1 = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def first() -> Dict[str, Any]:
            async with micktrace.acontext(task=1):
                async with shared:
                    entered_1.set()
                    await entered_2.wait()
                after = micktrace.get_context()
                left_1.set()
                return after

        async def second() -> Dict[str, Any]:
            async with micktrace.acontext(task=2):
                await entered_1.wait()
                async with shared:
                    entered_2.set()
                    await left_1.wait()
                    inside = micktrace.get_context()
                return {"inside": inside, "after": micktrace.get_context()}

        return list(await asyncio.gather(first(), second()))

    first_after, second = asyncio.run(main())
    assert first_after == {"task": 1}
    assert second == {"inside": {"task": 2, "tenant": "acme"}, "after": {"task": 2}}


def test_one_context_instance_shared_by_threads() -> None:
    shared = micktrace.context(shared=True)
    entered_a, left_a = threading.Event(), threading.Event()
    results: Dict[str, Any] = {}

    def thread_a() -> None:
        with micktrace.context(thread="a"):
            with shared:
                entered_a.set()
                time_to_leave.wait(10)
            results["a"] = micktrace.get_context()
        left_a.set()

    def thread_b() -> None:
        with micktrace.context(thread="b"):
            entered_a.wait(10)
            with shared:
                time_to_leave.set()  # a leaves while b is inside
                left_a.wait(10)
                results["b inside"] = micktrace.get_context()
            results["b"] = micktrace.get_context()

    time_to_leave = threading.Event()
    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {
        "a": {"thread": "a"},
        "b inside": {"thread": "b", "shared": True},
        "b": {"thread": "b"},
    }


def test_set_context_merges_a_copy_and_clear_context_empties() -> None:
    fields = {"a": 1}
    micktrace.set_context(fields)
    fields["a"] = 99  # the caller's dict is copied, not kept
    micktrace.set_context(b=2)
    micktrace.set_context({"c": 3}, a=4)
    assert micktrace.get_context() == {"a": 4, "b": 2, "c": 3}
    micktrace.unset_context("b", "missing")
    assert micktrace.get_context() == {"a": 4, "c": 3}
    micktrace.clear_context()
    assert micktrace.get_context() == {}


def test_set_context_inside_a_block_ends_with_the_block() -> None:
    micktrace.set_context(outside=1)
    with micktrace.context(block=1):
        micktrace.set_context(inside=1)
        assert micktrace.get_context() == {"outside": 1, "block": 1, "inside": 1}
    assert micktrace.get_context() == {"outside": 1}


def test_get_context_returns_a_copy() -> None:
    with micktrace.context(a=1):
        copy = micktrace.get_context()
        copy["a"] = 2
        copy["b"] = 3
        assert micktrace.get_context() == {"a": 1}


def test_context_does_not_leak_between_threads() -> None:
    seen: List[Dict[str, Any]] = []
    with micktrace.context(main_only=True):
        thread = threading.Thread(target=lambda: seen.append(micktrace.get_context()))
        thread.start()
        thread.join()
    assert seen == [{}]


def test_wrap_carries_context_into_a_thread_pool() -> None:
    mem = memory()
    log = micktrace.get_logger("pool")

    def work(n: int) -> Dict[str, Any]:
        micktrace.set_context(item=n)  # stays inside this call
        log.info("work", n=n)
        return micktrace.get_context()

    with ThreadPoolExecutor(max_workers=4) as pool:
        with micktrace.context(request_id="r-9"):
            plain = pool.submit(micktrace.get_context).result()
            wrapped = micktrace.wrap(work)
        # the context was taken when wrap() was called, not when the task runs
        results = list(pool.map(wrapped, range(16)))
        again = pool.submit(micktrace.get_context).result()
    assert plain == {}
    assert results == [{"request_id": "r-9", "item": n} for n in range(16)]
    assert again == {}
    assert micktrace.get_context() == {}
    assert sorted(r.data["n"] for r in mem.records) == list(range(16))
    assert all(r.context["request_id"] == "r-9" for r in mem.records)


def test_wrap_keeps_the_function_name() -> None:
    def named() -> None:
        pass

    assert micktrace.wrap(named).__name__ == "named"


HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_correlation_generates_an_id_that_is_in_the_context() -> None:
    mem = memory()
    with micktrace.correlation() as cid:
        assert HEX32.match(cid)
        assert micktrace.get_context()["correlation_id"] == cid
        micktrace.get_logger("corr").info("inside")
    with micktrace.correlation() as other:
        assert other != cid
    assert "correlation_id" not in micktrace.get_context()
    assert mem.records[0].context == {"correlation_id": cid}


def test_correlation_with_an_explicit_id_and_extra_fields() -> None:
    with micktrace.correlation("abc", user="u") as cid:
        assert cid == "abc"
        assert micktrace.get_context() == {"correlation_id": "abc", "user": "u"}


def test_nested_correlation_keeps_the_active_id() -> None:
    with micktrace.correlation() as outer:
        with micktrace.correlation() as inner:
            assert inner == outer
        with micktrace.correlation("forced") as forced:
            assert forced == "forced"
        assert micktrace.get_context()["correlation_id"] == outer


def test_acorrelation_in_tasks_gives_each_task_its_own_id() -> None:
    async def task() -> str:
        async with micktrace.acorrelation() as cid:
            await asyncio.sleep(0)
            assert micktrace.get_context()["correlation_id"] == cid
            return cid

    async def main() -> List[str]:
        return list(await asyncio.gather(*(task() for _ in range(10))))

    ids = asyncio.run(main())
    assert len(set(ids)) == 10
    assert all(HEX32.match(i) for i in ids)


def test_correlation_decorator_gives_each_call_a_new_id() -> None:
    @micktrace.correlation()
    def handle() -> str:
        return str(micktrace.get_context()["correlation_id"])

    @micktrace.correlation(kind="async")
    async def ahandle() -> Dict[str, Any]:
        return micktrace.get_context()

    first, second = handle(), handle()
    assert first != second and HEX32.match(first) and HEX32.match(second)
    a, b = asyncio.run(ahandle()), asyncio.run(ahandle())
    assert a["kind"] == "async" and a["correlation_id"] != b["correlation_id"]
    with micktrace.correlation("fixed"):
        assert handle() == "fixed"  # an active id is kept


def test_new_correlation_id_is_random_hex() -> None:
    ids = {micktrace.new_correlation_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(HEX32.match(i) for i in ids)
