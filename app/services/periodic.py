"""`PeriodicTask`: the one loop behind the background passes (sweeps, purges, reconciliation)."""

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from types import TracebackType
from typing import ClassVar, Self

log = logging.getLogger(__name__)


class PeriodicTask(ABC):
    """`async with` runs `run_pass` at once (unless `first_pass_at_start` is False) and then
    every `interval_s` in a task of its own; leaving cancels it. A failed pass is logged with
    its traceback and the next one runs on schedule (a loop top: one bad pass must not end the
    work for good). `wake()` starts the next pass now instead of at the end of the interval.
    """

    task_name: ClassVar[str] = "periodic task"
    first_pass_at_start: ClassVar[bool] = True
    """False: the first pass comes one interval (or a `wake()`) after start, not at once."""

    def __init__(self, *, interval_s: float) -> None:
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_pass(self) -> None:
        """One pass of the work."""

    def after_pass(self) -> None:  # noqa: B027  (a hook: most tasks need nothing after a pass)
        """Called after every pass, failed or not (tests wait on it)."""

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        if not self.first_pass_at_start:
            await self._wait()
        while True:
            try:
                await self.run_pass()
            except Exception:  # loop top: the next pass tries again
                log.exception("%s failed", self.task_name)
            self.after_pass()
            await self._wait()

    async def _wait(self) -> None:
        """Until the interval is over or `wake()` is called."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.interval_s):
                await self._wake.wait()
        self._wake.clear()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=self.task_name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
