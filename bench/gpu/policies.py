"""How a job's requests reach the engine replicas (helper of bench/gpu/schedule.py).

- ideal: one call holding every request in a global queue that feeds any free slot of any
  replica, one engine start per replica.
- evallaunch: the schedule of evallaunch.job.units and evallaunch.serving: units of
  `per_unit` problems x `samples_per_unit` samples; a unit's requests reach the balancer's
  one FIFO queue `setup_s` after it starts (the harness writes its problems, builds its
  requests), all at once; the queue feeds any replica running fewer than its max_num_seqs;
  `in_flight` units generate at once (a unit stops counting once every request of it is
  answered, while its harness scores it for `score_s`; at most 2 x in_flight units run);
  with adaptive sampling unit (block b + 1, chunk c) becomes ready when (b, c) is scored
  and holds the problems of chunk c not settled yet.
- static: lighteval's vLLM data-parallel path: the prompts (longest first) dealt round-robin
  over the replicas up front (more_itertools.distribute), all n samples of a prompt on one
  replica; engines started in Ray tasks for the call.
- barriers: units run one after another, each split statically and, on the harness's
  data-parallel path, each reloading the engine on every replica (+ Ray).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from bench.gpu.sim import Cluster, Replica, Request
from evallaunch.planning import throughput as tp
from evallaunch.planning.replica_cost import ReplicaModel


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
    """A simulated job: wall time (with engine starts), GPU-hours, preemptions. Times are the
    simulation's x throughput.TIME_SCALE (`of`): the calibrated scale, common to every
    schedule, so it leaves their ratios as simulated."""

    wall_s: float
    gpu_hours: float
    preemptions: int
    starts: int
    requests: int = 0

    @classmethod
    def of(
        cls, setup: Setup, end_s: float, preemptions: int, starts: int, requests: int
    ) -> Outcome:
        """The outcome of a simulation that ended at `end_s` (simulated seconds)."""
        wall = tp.TIME_SCALE * end_s
        return cls(wall, wall * setup.gpus / 3600, preemptions, starts, requests)

    @property
    def preempted(self) -> float:
        """Preemptions per request."""
        return self.preemptions / max(self.requests, 1)


def requests_of(prompt: np.ndarray, length: np.ndarray, correct: np.ndarray) -> list[Request]:
    """One Request per (problem, sample), problem-major; length 0 marks a sample not drawn."""
    out: list[Request] = []
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


def _outcome(setup: Setup, cluster: Cluster, end: float, starts: int, requests: int) -> Outcome:
    pre = sum(r.preemptions for r in cluster.replicas)
    return Outcome.of(setup, end, pre, starts, requests)


def ideal(setup: Setup, requests: list[Request]) -> Outcome:
    start = setup.model.start_s(setup.ray)
    cluster = Cluster(_replicas(setup, start), on_done=lambda r, t: None)
    cluster.now = start
    cluster.enqueue(list(requests))
    return _outcome(setup, cluster, cluster.run(), setup.replicas, len(requests))


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
    return _outcome(setup, cluster, cluster.run(), setup.replicas, len(requests))


@dataclass
class _Unit:
    key: tuple[int, int]
    requests: list[Request]
    answered: int = 0


@dataclass
class Client:
    """evallaunch's side of a job: unit sizes and its own time per unit."""

    per_unit: int
    samples_per_unit: int
    in_flight: int
    adaptive: bool = False
    setup_s: float = 5.0
    score_s: float = 5.0


@dataclass
class _Schedule:
    """The units of a job by (block, chunk) and the client's state."""

    units: dict[tuple[int, int], list[Request]]
    ready: list[tuple[int, int]]
    generating: dict[tuple[int, int], _Unit] = field(default_factory=dict)
    scoring: int = 0
    queued: set[tuple[int, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.queued.update(self.ready)


def _units(requests: list[Request], client: Client) -> _Schedule:
    chunk_of: dict[int, int] = {}
    for request in requests:
        chunk_of.setdefault(request.problem, len(chunk_of) // max(client.per_unit, 1))
    units: dict[tuple[int, int], list[Request]] = {}
    sample_no: dict[int, int] = {}
    for request in requests:  # problem-major: sample i of a problem is its i-th request
        i = sample_no.get(request.problem, 0)
        sample_no[request.problem] = i + 1
        key = (i // client.samples_per_unit, chunk_of[request.problem])
        units.setdefault(key, []).append(request)
    ready = sorted(key for key in units if not client.adaptive or key[0] == 0)
    heapq.heapify(ready)
    return _Schedule(units, ready)


def evallaunch(setup: Setup, requests: list[Request], client: Client) -> Outcome:
    """evallaunch's schedule (see the module docstring). `requests` hold the samples drawn
    (adaptive: fewer)."""
    return run_units(setup, _units(requests, client), client, len(requests))


def units_of(requests: list[Request], client: Client) -> _Schedule:
    """The units of one benchmark's requests (for `merged`)."""
    return _units(requests, client)


def merged(schedules: list[_Schedule]) -> _Schedule:
    """The units of several benchmarks run by one job (chunks renumbered), ready in order."""
    units: dict[tuple[int, int], list[Request]] = {}
    ready: list[tuple[int, int]] = []
    offset = 0
    for schedule in schedules:
        chunks = 1 + max(chunk for _, chunk in schedule.units)
        units.update({(b, c + offset): reqs for (b, c), reqs in schedule.units.items()})
        ready += [(b, c + offset) for b, c in schedule.ready]
        offset += chunks
    heapq.heapify(ready)
    return _Schedule(units, ready)


def run_units(setup: Setup, plan: _Schedule, client: Client, requests: int) -> Outcome:
    """Run the units of `plan` with the client's settings (see the module docstring)."""
    owner: dict[int, _Unit] = {}
    start = setup.model.start_s(setup.ray)
    cluster = Cluster(_replicas(setup, start), on_done=lambda r, t: done(r))
    cluster.now = start

    def fill() -> None:
        while (
            len(plan.generating) < client.in_flight
            and len(plan.generating) + plan.scoring < 2 * client.in_flight
            and plan.ready
        ):
            unit = _Unit(heapq.heappop(plan.ready), [])
            unit.requests = plan.units[unit.key]
            plan.generating[unit.key] = unit
            for request in unit.requests:
                owner[request.rid] = unit
            cluster.at(cluster.now + client.setup_s, partial(cluster.enqueue, unit.requests))

    def scored(unit: _Unit) -> None:
        plan.scoring -= 1
        block, chunk = unit.key
        after = (block + 1, chunk)  # adaptive: the chunk's next block waits for this one
        if after in plan.units and after not in plan.queued:
            plan.queued.add(after)
            heapq.heappush(plan.ready, after)
        fill()

    def done(request: Request) -> None:
        unit = owner.pop(request.rid)
        unit.answered += 1
        if unit.answered == len(unit.requests):
            del plan.generating[unit.key]
            plan.scoring += 1
            cluster.at(cluster.now + client.score_s, lambda: scored(unit))
            fill()

    fill()
    end = cluster.run()
    return _outcome(setup, cluster, end, setup.replicas, requests)


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
    return Outcome.of(setup, clock, preemptions, starts, len(requests))
