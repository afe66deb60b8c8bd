"""Thread pools that keep the caller's logging context.

A :class:`concurrent.futures.ThreadPoolExecutor` runs each task in its worker
thread's own :mod:`contextvars` context, so ``micktrace.context(...)`` fields
set by the code that submitted the task are missing from the task's records.
:class:`ContextExecutor` copies the submitter's context for every task.
``asyncio.to_thread`` already copies it; ``loop.run_in_executor`` does not,
which :func:`install_context_executor` fixes for a loop's default executor.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

if TYPE_CHECKING:
    import asyncio
    from typing import ParamSpec

    P = ParamSpec("P")

T = TypeVar("T")


class ContextExecutor(ThreadPoolExecutor):
    """A :class:`~concurrent.futures.ThreadPoolExecutor` whose tasks run in a
    copy of the context of the code that submitted them (``submit`` and
    ``map``): context fields, and any other context variables, are there.

    Each task gets its own copy, so what a task sets does not leak into other
    tasks or back into the submitter.
    """

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        run_in_copy = contextvars.copy_context().run
        return super().submit(run_in_copy, fn, *args, **kwargs)  # type: ignore[arg-type]


def install_context_executor(
    loop: Optional[asyncio.AbstractEventLoop] = None, max_workers: Optional[int] = None
) -> ContextExecutor:
    """Make ``loop.run_in_executor(None, fn)`` keep the caller's context.

    Sets a :class:`ContextExecutor` as the default executor of *loop* (default:
    the running loop) and returns it. Call it once, early, inside the loop
    (for example at the top of the coroutine given to ``asyncio.run``, or in a
    framework's startup hook). The loop shuts the executor down when it closes.
    """
    if loop is None:
        import asyncio

        loop = asyncio.get_running_loop()
    executor = ContextExecutor(max_workers=max_workers, thread_name_prefix="micktrace-context")
    loop.set_default_executor(executor)
    return executor


async def run_in_executor(executor: Optional[Any], fn: Callable[..., T], /, *args: Any) -> T:
    """``await loop.run_in_executor(executor, fn, *args)`` with the caller's context,
    whatever the executor is (None: the loop's default)."""
    import asyncio

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, contextvars.copy_context().run, fn, *args)


__all__ = ["ContextExecutor", "install_context_executor", "run_in_executor"]
