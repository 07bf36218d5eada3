"""Which server behind the job's balancer (evallaunch.serving.balancer) takes a request: the
live one with the fewest requests in flight. With a capacity (each engine's slots), a request
that finds every live server full waits in one line, in arrival order, for the first slot
that frees on any server: the engines' own queues stay empty, so no request is stuck behind
a long sequence on one server while another has a free slot."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence

from evallaunch.serving.upstream import Upstream


class ServerSlots:
    """The servers' slots and the line of requests waiting for one."""

    def __init__(self, upstreams: Sequence[Upstream], capacity: int | None) -> None:
        self.upstreams = upstreams
        #: Requests each server runs at once; None: no limit (nothing waits here).
        self.capacity = capacity
        #: The longest the line has been.
        self.most_waiting = 0
        self._waiting: collections.deque[asyncio.Future[int | None]] = collections.deque()

    def pick(self, tried: set[int]) -> int | None:
        """Index of the live server with the fewest requests in flight, preferring servers
        not tried yet for this request and not failed recently; None if all are dead."""
        now = time.monotonic()
        live = [i for i, u in enumerate(self.upstreams) if u.alive()]
        for candidates in (
            [i for i in live if i not in tried and self.upstreams[i].down_until <= now],
            [i for i in live if i not in tried],
            live,
        ):
            if candidates:
                return min(
                    candidates, key=lambda i: (self.upstreams[i].active, self.upstreams[i].requests)
                )
        return None

    async def acquire(self, tried: set[int]) -> int | None:
        """A server for a new request (counted as active), waiting in line for a free
        slot when every live server is full; None when no server is alive."""
        index = self.pick(tried)
        if index is not None and (not self._full(index) or tried):
            self.upstreams[index].active += 1
            return index  # a retry goes to another server at once
        if index is None:
            return None
        waiter: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self.most_waiting = max(self.most_waiting, len(self._waiting))
        try:
            return await waiter  # the slot was reserved by release()
        except asyncio.CancelledError:  # the client went away: give back a reserved slot
            if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                self.release(waiter.result())  # type: ignore[arg-type]
            raise

    def release(self, index: int) -> None:
        """A request left server `index`: hand free slots to the requests waiting longest."""
        self.upstreams[index].active -= 1
        while self._waiting:
            waiter = self._waiting[0]
            if waiter.done():  # its client went away
                self._waiting.popleft()
                continue
            target = self.pick(set())
            if target is not None and self._full(target):
                return
            self._waiting.popleft()
            if target is not None:
                self.upstreams[target].active += 1
            waiter.set_result(target)

    def _full(self, index: int) -> bool:
        return self.capacity is not None and self.upstreams[index].active >= self.capacity
