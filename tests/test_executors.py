"""Context across thread pools: wrap(), ContextExecutor, run_in_executor, asyncio.to_thread."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Tuple

import micktrace
from micktrace.integrations.executors import ContextExecutor, install_context_executor, run_in_executor
from micktrace.testing import capture_logs

log = micktrace.get_logger("worker")


def job(n: int) -> Tuple[int, Dict[str, Any], int]:
    log.info("working", n=n)
    return n, micktrace.get_context(), threading.get_ident()


def test_plain_thread_pool_loses_context_and_wrap_restores_it() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool, micktrace.context(request_id="r-1"):
        _, lost, _ = pool.submit(job, 1).result()
        _, kept, thread = pool.submit(micktrace.wrap(job), 2).result()
    assert lost == {}  # the problem this module solves
    assert kept == {"request_id": "r-1"} and thread != threading.get_ident()


def test_context_executor_submit_and_map_carry_the_submitters_context() -> None:
    with capture_logs() as captured, ContextExecutor(max_workers=3) as pool:
        with micktrace.context(request_id="r-1"):
            first = pool.submit(job, 1)
        with micktrace.context(request_id="r-2", user="ann"):
            mapped = list(pool.map(job, [2, 3]))
        assert first.result()[1] == {"request_id": "r-1"}
    assert [m[1] for m in mapped] == [{"request_id": "r-2", "user": "ann"}] * 2
    by_n = {r.data["n"]: r.context for r in captured.records}
    assert by_n == {
        1: {"request_id": "r-1"},
        2: {"request_id": "r-2", "user": "ann"},
        3: {"request_id": "r-2", "user": "ann"},
    }


def test_context_executor_tasks_are_isolated_from_each_other_and_the_caller() -> None:
    def sets_context(n: int) -> Dict[str, Any]:
        micktrace.set_context(task=n)
        return micktrace.get_context()

    with ContextExecutor(max_workers=1) as pool, micktrace.context(request_id="r"):
        results = [pool.submit(sets_context, n).result() for n in range(3)]
        assert micktrace.get_context() == {"request_id": "r"}
    # one worker thread ran all three, yet none saw another's field
    assert results == [{"request_id": "r", "task": n} for n in range(3)]


def test_many_concurrent_submitters_each_see_their_own_context() -> None:
    results: List[Tuple[int, Dict[str, Any], int]] = []
    lock = threading.Lock()

    with ContextExecutor(max_workers=4) as pool:

        def submitter(n: int) -> None:
            with micktrace.context(request_id=f"r-{n}"):
                outcome = pool.submit(job, n).result()
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=submitter, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted((n, ctx["request_id"]) for n, ctx, _ in results) == [(n, f"r-{n}") for n in range(16)]


def test_asyncio_to_thread_keeps_the_context() -> None:
    async def main() -> Dict[str, Any]:
        async with micktrace.acontext(request_id="async-1"):
            _, ctx, thread = await asyncio.to_thread(job, 1)
            assert thread != threading.get_ident()
            return ctx

    assert asyncio.run(main()) == {"request_id": "async-1"}


def test_run_in_executor_loses_context_until_the_default_executor_is_installed() -> None:
    async def main() -> Tuple[Dict[str, Any], Dict[str, Any]]:
        loop = asyncio.get_running_loop()
        async with micktrace.acontext(request_id="a"):
            _, before, _ = await loop.run_in_executor(None, job, 1)
        install_context_executor()

        async def request(n: int) -> Dict[str, Any]:
            async with micktrace.acontext(request_id=f"req-{n}"):
                await asyncio.sleep(0)
                _, ctx, _ = await loop.run_in_executor(None, job, n)
                return ctx

        after = await asyncio.gather(*(request(n) for n in range(10)))
        assert after == [{"request_id": f"req-{n}"} for n in range(10)]
        return before, after[0]

    before, after = asyncio.run(main())
    assert before == {}  # stock asyncio: the default executor drops the context
    assert after == {"request_id": "req-0"}


def test_run_in_executor_helper_with_any_executor() -> None:
    async def main() -> Dict[str, Any]:
        with ThreadPoolExecutor(max_workers=1) as plain:
            async with micktrace.acontext(job="nightly"):
                _, ctx, _ = await run_in_executor(plain, job, 7)
                return ctx

    assert asyncio.run(main()) == {"job": "nightly"}


def test_lazy_public_names() -> None:
    assert micktrace.ContextExecutor is ContextExecutor
    assert micktrace.install_context_executor is install_context_executor
