"""Event-driven simulation of vLLM-style engine replicas (helper of bench/gpu/schedule.py).

A replica runs up to `slots` sequences whose KV cache must fit in `capacity` tokens. Between
two events (a sequence finishes, the KV cache fills up, a request arrives) its batch is
constant and its KV cache grows by one token per sequence per step, so the time of n steps
is a sum of a piecewise-linear step time (`ReplicaModel.step_terms`), done in closed form.
Admission as vLLM's scheduler: waiting requests (preempted ones first) join while a slot is
free and their context fits; when the cache is full the newest sequence is preempted and
recomputed later (its prompt and generated tokens prefilled again). Prefill stalls the
replica for `ReplicaModel.prefill_s`.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from evallaunch.planning.replica_cost import ReplicaModel

INF = math.inf


@dataclass
class Request:
    """One sample to generate: its prompt and its (capped) completion length."""

    rid: int
    problem: int
    prompt: int
    length: int
    correct: bool
    generated: int = 0  # tokens generated before a preemption
    done_at: float = 0.0


Lines = tuple[tuple[float, float], ...]


def steps_time(n: int, fixed: float, lines: Lines) -> float:
    """sum over steps i < n of fixed + max over the lines (a, b) of a + b x i."""
    if n <= 0:
        return 0.0
    last = n - 1
    a0, b0 = max(lines, key=lambda line: line[0])
    if all(a0 + b0 * last >= a + b * last for a, b in lines):  # one line on top throughout
        return n * (fixed + a0) + b0 * n * last / 2
    points = {0.0, float(n)}
    for k, (a1, b1) in enumerate(lines):
        for a2, b2 in lines[k + 1 :]:
            if b1 != b2 and 0 < (x := (a2 - a1) / (b1 - b2)) < n:
                points.add(x)
    edges = sorted(points)
    total = n * fixed
    for lo, hi in zip(edges, edges[1:], strict=False):
        first, last = math.ceil(lo), math.ceil(hi) - 1  # integer steps in [lo, hi)
        if last < first:
            continue
        mid = (lo + hi) / 2
        a, b = max(lines, key=lambda line: line[0] + line[1] * mid)
        k = last - first + 1
        total += k * (a + b * first) + b * k * (k - 1) / 2
    return total


def steps_within(tau: float, limit: int, fixed: float, lines: Lines) -> int:
    """The most steps (at most `limit`) whose time is at most tau."""
    if tau <= 0 or limit <= 0:
        return 0
    first = fixed + max(a for a, _ in lines)  # the cheapest step: the first
    lo, hi = 0, min(limit, int(tau / first) + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if steps_time(mid, fixed, lines) <= tau:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass
class Replica:
    """One engine replica with its running batch and waiting queue."""

    index: int
    model: ReplicaModel
    slots: int
    capacity: float
    now: float = 0.0  # time at which `step` starts
    step: int = 0
    running: list[tuple[int, int]] = field(default_factory=list)  # (finish step, rid) heap
    order: list[int] = field(default_factory=list)  # running rids, oldest first
    # rid -> (step admitted, context then, finish step); heap entries of a preempted and
    # re-admitted request are stale unless their finish step matches.
    admitted: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    waiting: deque[Request] = field(default_factory=deque)
    kv_base: float = 0.0  # K(step) = kv_base + batch x step
    in_flight: int = 0  # running + waiting (the balancer's count)
    served: int = 0
    preemptions: int = 0
    _lines: dict[int, tuple[float, Lines]] = field(default_factory=dict)
    _next: tuple[float, int] | None = None  # next_event() until the state changes
    _requests: dict[int, Request] = field(default_factory=dict)

    @property
    def batch(self) -> int:
        return len(self.admitted)

    def kv(self) -> float:
        return self.kv_base + self.batch * self.step

    def terms(self) -> tuple[float, Lines]:
        """Step time as a function of the step index from now (KV grows by batch a step)."""
        b = self.batch
        if b not in self._lines:
            self._lines[b] = self.model.step_lines(b)
        fixed, lines = self._lines[b]
        k0 = self.kv()
        return fixed, tuple((a + slope * k0, slope * b) for a, slope in lines)

    def next_event(self) -> tuple[float, int]:
        """(time, steps) of the next finish or full cache; (inf, 0) when idle."""
        if self._next is None:
            self._next = self._next_event()
        return self._next

    def _next_event(self) -> tuple[float, int]:
        if not self.admitted:
            return INF, 0
        while self.running and not self._live(*self.running[0]):
            heapq.heappop(self.running)
        finish = self.running[0][0] - self.step
        room = int((self.capacity - self.kv()) // self.batch)
        steps = max(min(finish, room), 0)
        return self.now + steps_time(steps, *self.terms()), steps

    def advance(self, t: float) -> None:
        """Run the steps that end by time t (no event can fall inside)."""
        if self.admitted and t > self.now:
            _, limit = self.next_event()
            n = steps_within(t - self.now, limit, *self.terms())
            self.now += steps_time(n, *self.terms())
            self.step += n
            self._next = None
        elif not self.admitted:
            self.now = max(self.now, t)

    def add(self, request: Request, t: float) -> None:
        self.advance(t)
        self.waiting.append(request)
        self.in_flight += 1
        self.served += 1

    def admit(self) -> None:
        """Start waiting requests while slots and cache allow."""
        while len(self.admitted) < self.slots and self.waiting:
            request = self.waiting[0]
            context = request.prompt + request.generated
            if self.kv() + context + self.batch + 1 > self.capacity and self.admitted:
                return
            self.waiting.popleft()
            self._next = None
            self.now += self.model.prefill_s(context)
            self.kv_base += context - self.step
            finish = self.step + max(request.length - request.generated, 1)
            self.admitted[request.rid] = (self.step, context, finish)
            self.order.append(request.rid)
            heapq.heappush(self.running, (finish, request.rid))
            self._requests[request.rid] = request

    def fire(self, steps: int) -> list[Request]:
        """Run `steps` steps to the next event; return the requests that finished."""
        self.now += steps_time(steps, *self.terms())
        self.step += steps
        self._next = None
        done = []
        while self.running and (
            not self._live(*self.running[0]) or self.running[0][0] <= self.step
        ):
            finish, rid = heapq.heappop(self.running)
            if self._live(finish, rid):
                done.append(self._finish(rid))
        if not done and self.admitted and self.kv() + self.batch > self.capacity:
            self._preempt()
        return done

    def _live(self, finish: int, rid: int) -> bool:
        entry = self.admitted.get(rid)
        return entry is not None and entry[2] == finish

    def _finish(self, rid: int) -> Request:
        start, context, _ = self.admitted.pop(rid)
        self.order.remove(rid)
        self.kv_base -= context - start
        self.in_flight -= 1
        request = self._requests.pop(rid)
        request.done_at = self.now
        return request

    def _preempt(self) -> None:
        rid = self.order.pop()
        start, context, _ = self.admitted.pop(rid)
        self.kv_base -= context - start
        request = self._requests.pop(rid)
        request.generated += self.step - start
        self.waiting.appendleft(request)
        self.preemptions += 1


class Cluster:
    """Replicas driven by one event loop. `on_done(request, t)` is called as each request
    finishes. Requests reach the replicas either up front (`Replica.waiting`, a static
    split), or through `enqueue`: one FIFO queue in front of all replicas, each taking the
    oldest waiting request while it runs fewer than its slots (evallaunch's balancer with
    the engines' max_num_seqs as capacity; the least busy replica first). `at(t, f)` runs f
    at time t (a client's own work between requests)."""

    def __init__(self, replicas: list[Replica], on_done: Callable[[Request, float], None]) -> None:
        self.replicas, self.on_done = replicas, on_done
        self.heap: list[tuple[float, int, int]] = []
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.version = [0] * len(replicas)
        self.queue: deque[Request] = deque()
        self.now = 0.0
        self._order = itertools.count()

    def at(self, t: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.timers, (t, next(self._order), action))

    def enqueue(self, requests: list[Request]) -> None:
        self.queue.extend(requests)
        self.dispatch()

    def dispatch(self) -> None:
        """Hand waiting requests to replicas with a free slot, the least busy first."""
        while self.queue:
            free = [r for r in self.replicas if r.in_flight < r.slots]
            if not free:
                return
            target = min(free, key=lambda r: (r.in_flight, r.served))
            target.add(self.queue.popleft(), self.now)
            self._touch(target)

    def _touch(self, replica: Replica) -> None:
        replica.admit()
        t, _ = replica.next_event()
        self.version[replica.index] += 1
        if t < INF:
            heapq.heappush(
                self.heap, (max(t, self.now), replica.index, self.version[replica.index])
            )

    def start(self) -> None:
        for replica in self.replicas:
            self._touch(replica)

    def run(self) -> float:
        """Process events until every replica is idle and no timer is left; the time of the
        last request's end."""
        end = 0.0
        while self.heap or self.timers:
            if self.timers and (not self.heap or self.timers[0][0] <= self.heap[0][0]):
                t, _, action = heapq.heappop(self.timers)
                self.now = max(self.now, t)
                action()
                continue
            t, index, version = heapq.heappop(self.heap)
            if version != self.version[index]:
                continue
            replica = self.replicas[index]
            self.now = max(self.now, t)
            _, steps = replica.next_event()
            for request in replica.fire(steps):
                end = max(end, request.done_at)
                self.on_done(request, self.now)
            self._touch(replica)
            self.dispatch()
        return end
