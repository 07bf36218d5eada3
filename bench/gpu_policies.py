"""How a job's requests reach the engine replicas (helper of gpu_schedule.py).

- ideal: one call holding every request, a global queue feeding any free slot of any
  replica, one engine start per replica.
- units: evallaunch's schedule: `in_flight` units at once, each keeping at most replicas x
  slots requests outstanding, sent through the least-connections balancer; a unit starts
  as soon as one finishes; with adaptive sampling unit (block b + 1, chunk c) waits for
  (b, c) and holds the problems of chunk c not settled yet (evallaunch.sampling).
- static: lighteval's vLLM data-parallel path: the prompts (longest first) dealt round-robin
  over the replicas up front (more_itertools.distribute), all n samples of a prompt on one
  replica; engines started in Ray tasks for the call.
- barriers: units run one after another, each split statically and, on the harness's
  data-parallel path, each reloading the engine on every replica (+ Ray).
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

import numpy as np
from gpu_sim import Cluster, Replica, Request

from evallaunch.planning.throughput import ReplicaModel


@dataclass(frozen=True)
class Setup:
    """Engines of one job: replicas of one cost model, slots and KV tokens per replica."""

    model: ReplicaModel
    replicas: int
    slots: int
    capacity: float
    ray: bool = False

    @property
    def gpus(self) -> int:
        return self.model.gpus * self.replicas


@dataclass
class Outcome:
    """A simulated job: wall time (with engine starts), GPU-hours, preemptions."""

    wall_s: float
    gpu_hours: float
    preemptions: int
    starts: int


def requests_of(prompt: np.ndarray, length: np.ndarray, correct: np.ndarray) -> list[Request]:
    """One Request per (problem, sample), problem-major; length 0 marks a sample not drawn."""
    out = []
    for j in range(length.shape[0]):
        for i in range(length.shape[1]):
            if length[j, i] > 0:
                out.append(Request(len(out), j, int(prompt[j]), int(length[j, i]), correct[j, i]))
    return out


def _replicas(setup: Setup, start: float) -> list[Replica]:
    return [
        Replica(i, setup.model, setup.slots, setup.capacity, now=start)
        for i in range(setup.replicas)
    ]


def _outcome(setup: Setup, cluster: Cluster, end: float, starts: int) -> Outcome:
    pre = sum(r.preemptions for r in cluster.replicas)
    return Outcome(end, end * setup.gpus / 3600, pre, starts)


def ideal(setup: Setup, requests: list[Request]) -> Outcome:
    start = setup.model.start_s(setup.ray)
    queue = deque(requests)
    cluster = Cluster(
        _replicas(setup, start),
        on_done=lambda r, t: None,
        pull=lambda: queue.popleft() if queue else None,
    )
    cluster.start()
    return _outcome(setup, cluster, cluster.run(), setup.replicas)


def static(setup: Setup, requests: list[Request], prompt: np.ndarray) -> Outcome:
    start = setup.model.start_s(setup.ray)
    replicas = _replicas(setup, start)
    order = sorted(range(len(prompt)), key=lambda j: -prompt[j])  # longest prompt first
    owner = {j: k % setup.replicas for k, j in enumerate(order)}
    for request in requests:
        replica = replicas[owner[request.problem]]
        replica.waiting.append(request)
        replica.in_flight += 1
    cluster = Cluster(replicas, on_done=lambda r, t: None)
    cluster.start()
    return _outcome(setup, cluster, cluster.run(), setup.replicas)


@dataclass
class _Unit:
    key: tuple[int, int]
    pending: deque[Request]
    outstanding: int = 0


def units(
    setup: Setup,
    requests: list[Request],
    per_unit: int,
    samples_per_unit: int,
    in_flight: int,
    adaptive: bool,
    total_limit: int | None = None,
) -> Outcome:
    """evallaunch's schedule. `requests` hold the samples drawn (adaptive: fewer). Each unit
    keeps at most replicas x slots requests outstanding; `total_limit` (optional) caps the
    requests outstanding over all units (the oldest unit sends first)."""
    chunk_of: dict[int, int] = {}
    for request in requests:
        chunk_of.setdefault(request.problem, len(chunk_of) // max(per_unit, 1))
    index: dict[tuple[int, int], list[Request]] = {}
    sample_no: dict[int, int] = {}
    for request in requests:  # problem-major: sample i of a problem is its i-th request
        i = sample_no.get(request.problem, 0)
        sample_no[request.problem] = i + 1
        key = (i // samples_per_unit, chunk_of[request.problem])
        index.setdefault(key, []).append(request)
    ready = sorted(key for key in index if not adaptive or key[0] == 0)
    heapq.heapify(ready)
    limit = setup.replicas * setup.slots
    cap = total_limit or limit * in_flight
    active: dict[tuple[int, int], _Unit] = {}  # in start order
    owner: dict[int, _Unit] = {}
    out = [0]
    cluster: Cluster

    def feed() -> None:
        for unit in active.values():
            while unit.pending and unit.outstanding < limit and out[0] < cap:
                request = unit.pending.popleft()
                owner[request.rid] = unit
                unit.outstanding += 1
                out[0] += 1
                cluster.route(request)

    def fill() -> None:
        while len(active) < in_flight and ready:
            key = heapq.heappop(ready)
            active[key] = _Unit(key, deque(index[key]))
        feed()

    def done(request: Request, t: float) -> None:
        unit = owner.pop(request.rid)
        unit.outstanding -= 1
        out[0] -= 1
        if unit.outstanding == 0 and not unit.pending:
            del active[unit.key]
            block, chunk = unit.key
            if adaptive and (block + 1, chunk) in index:
                heapq.heappush(ready, (block + 1, chunk))
        fill()

    start = setup.model.start_s(setup.ray)
    cluster = Cluster(_replicas(setup, start), on_done=done)
    cluster.now = start
    fill()
    return _outcome(setup, cluster, cluster.run(), setup.replicas)


def barriers(
    setup: Setup, requests: list[Request], prompt: np.ndarray, per_unit: int, samples: int
) -> Outcome:
    """Units of `per_unit` problems x `samples` samples one after another; with several
    replicas (the harness's Ray path) every unit starts its engines again."""
    groups: dict[tuple[int, int], list[Request]] = {}
    sample_no: dict[int, int] = {}
    for request in requests:
        i = sample_no.get(request.problem, 0)
        sample_no[request.problem] = i + 1
        groups.setdefault((i // samples, request.problem // per_unit), []).append(request)
    clock, starts, preemptions = 0.0, 0, 0
    reload = setup.replicas > 1
    for number, key in enumerate(sorted(groups)):
        if reload or number == 0:
            clock += setup.model.start_s(setup.ray and reload)
            starts += setup.replicas
        replicas = _replicas(setup, clock)
        chunk = sorted({r.problem for r in groups[key]}, key=lambda j: -prompt[j])
        owner = {j: k % setup.replicas for k, j in enumerate(chunk)}
        for request in groups[key]:
            replica = replicas[owner[request.problem]]
            replica.waiting.append(request)
            replica.in_flight += 1
        cluster = Cluster(replicas, on_done=lambda r, t: None)
        cluster.start()
        clock = max(clock, cluster.run())
        preemptions += sum(r.preemptions for r in replicas)
    return Outcome(clock, clock * setup.gpus / 3600, preemptions, starts)
