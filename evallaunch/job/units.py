"""A job's units of work and the order they run in.

A unit is (a block of sample indices) x (a chunk of problems). Its seed is derived from the
job's seed, the block and the chunk's problem ids, so a unit draws the same samples whether
it runs in an uninterrupted job or in a rerun after a crash. Units run one after another,
or several at once in worker threads (`run_overlapped`) when the job talks to servers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import logging
import math
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from evallaunch.backends.base import (
    Backend,
    BackendOutput,
    Completion,
    GenerationRequest,
    is_out_of_memory,
)
from evallaunch.benchmarks.mirror import write_problems
from evallaunch.benchmarks.problem import Problem
from evallaunch.engines.settings import DEFAULT_SLOTS, EngineSettings
from evallaunch.errors import EvallaunchError
from evallaunch.job.ledger import SampleKey, SampleLedger
from evallaunch.job.stopping import settled_problems
from evallaunch.planning.throughput import auto_problems_per_unit
from evallaunch.scoring.registry import Scorer

log = logging.getLogger(__name__)

# How often the scheduler looks at the servers' answers while units generate.
ANSWERED_POLL_S = 0.2


def unit_seed(seed: int, block: int, problem_ids: list[str]) -> int:
    """The seed of one unit: the same for the same unit in every run."""
    text = f"{seed}:{block}:" + "\x1f".join(problem_ids)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") >> 1


def _chunks(problems: list[Problem], size: int) -> list[list[Problem]]:
    size = size or max(1, len(problems))  # 0: all in one (none once all are settled)
    return [problems[start : start + size] for start in range(0, len(problems), size)]


@dataclass
class Unit:
    """One unit of work: a block of sample indices x the active problems of one chunk."""

    block: int
    chunk: int
    problems: list[Problem]
    first: int
    size: int
    seed: int
    name: str
    keys: list[SampleKey]


class Schedule:
    """The units of a job, in the order they become ready.

    Without adaptive sampling every unit is ready at once, block after block. With it,
    unit (block b + 1, chunk c) becomes ready when unit (b, c) is recorded: its problems
    are those of chunk c not yet settled by their samples of blocks 0..b. Chunks are fixed
    at the start, so units of different chunks never wait for each other."""

    def __init__(self, request: GenerationRequest, ledger: SampleLedger, sampling: Any) -> None:
        self.request, self.ledger, self.sampling = request, ledger, sampling
        n = request.n
        self.block_size = min(sampling.samples_per_unit or n, n)
        self.blocks = math.ceil(n / self.block_size)
        per_unit = resolve_problems_per_unit(
            sampling.problems_per_unit, request.engine, self.block_size, len(request.problems)
        )
        self.chunks = _chunks(request.problems, per_unit)
        self.unit_sequences = max((len(c) for c in self.chunks), default=0) * self.block_size
        self.ready: list[tuple[int, int]] = []
        first_blocks = [0] if sampling.adaptive else range(self.blocks)
        for block in first_blocks:
            for chunk in range(len(self.chunks)):
                heapq.heappush(self.ready, (block, chunk))

    @property
    def planned_samples(self) -> int:
        """Samples of every unit (the budget: fewer with adaptive sampling)."""
        return len(self.request.problems) * self.request.n

    def next_unit(self) -> Unit | None:
        """The first ready unit with problems left to sample, or None."""
        while self.ready:
            block, chunk = heapq.heappop(self.ready)
            first = block * self.block_size
            size = min(self.block_size, self.request.n - first)
            problems = self.chunks[chunk]
            if self.sampling.adaptive:
                settled = settled_problems(problems, self.ledger, self.sampling, first)
                problems = [p for p in problems if p.id not in settled]
                if not problems:
                    continue  # the whole chunk has settled
            seed = unit_seed(self.request.seed, block, [p.id for p in problems])
            keys = [(p.id, first + i) for p in problems for i in range(size)]
            name = f"b{block:04d}-{seed:08x}"
            return Unit(block, chunk, problems, first, size, seed, name, keys)
        return None

    def done(self, unit: Unit) -> None:
        """Unit recorded: with adaptive sampling, its chunk's next block becomes ready."""
        if self.sampling.adaptive and unit.block + 1 < self.blocks:
            heapq.heappush(self.ready, (unit.block + 1, unit.chunk))


def run_overlapped(
    schedule: Schedule,
    start: Callable[[Unit], bool],
    run: Callable[[Unit], Any],
    finish: Callable[[Unit, Any], None],
    units_in_flight: int,
    answered: Callable[[str], int] | None = None,
    on_answered: Callable[[int], None] | None = None,
) -> None:
    """Keep `units_in_flight` units generating in worker threads; record each in this
    thread as it finishes. On an error (or Ctrl-C) the units already finished stay
    recorded, units not started are dropped, and the error is raised. With `answered`,
    `on_answered` is told after each poll how many samples of the running units the
    servers have answered."""
    most = 2 * units_in_flight  # generating + being scored by the harness
    pool = ThreadPoolExecutor(most, thread_name_prefix="evallaunch-unit")
    running: dict[Future[Any], Unit] = {}

    def generating() -> int:
        if answered is None:
            return len(running)
        return sum(answered(unit.name) < len(unit.keys) for unit in running.values())

    try:
        while True:
            while generating() < units_in_flight and len(running) < most:
                unit = schedule.next_unit()
                if unit is None:
                    break
                if start(unit):
                    running[pool.submit(run, unit)] = unit
            if not running:
                break
            poll = None if answered is None else ANSWERED_POLL_S
            finished, _ = wait(running, timeout=poll, return_when=FIRST_COMPLETED)
            if answered is not None and on_answered is not None:
                on_answered(
                    sum(answered(unit.name) for f, unit in running.items() if f not in finished)
                )
            failed: BaseException | None = None
            for future in finished:
                unit = running.pop(future)
                if future.exception() is not None:
                    failed = failed or future.exception()
                else:
                    finish(unit, future.result())
            if failed is not None:
                raise failed
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def run_unit(
    backend: Backend, request: GenerationRequest, unit: Unit, scorer: Scorer | None = None
) -> tuple[list[Completion], dict[str, float]]:
    """Generate one unit (its own problems file, seed and work directory); `scorer` grades
    the samples for the harness's own metrics."""
    work_dir = request.work_dir / "backend" / "units" / unit.name
    request = dataclasses.replace(
        request,
        problems=unit.problems,
        problems_file=write_problems(unit.problems, work_dir / "data" / "test.jsonl"),
        n=unit.size,
        seed=unit.seed,
        work_dir=work_dir,
        unit=request.unit + unit.name,  # in the job's scope (serving.job_servers)
    )
    log.info(
        "Unit %s: %d problems x %d samples (from index %d)",
        unit.name,
        len(unit.problems),
        unit.size,
        unit.first,
    )
    output = _generate_within_memory(backend, request, unit.name, scorer)
    wanted = {p.id for p in unit.problems}
    shifted = [
        dataclasses.replace(c, sample_index=unit.first + c.sample_index)
        for c in output.completions
        if c.problem_id in wanted and c.sample_index < unit.size
    ]
    if len(shifted) != len(unit.keys):
        raise EvallaunchError(
            f"backend {backend.name} returned {len(shifted)} samples for unit {unit.name}, "
            f"expected {len(unit.problems)} problems x {unit.size}"
        )
    return shifted, output.metrics


def _generate_within_memory(
    backend: Backend, unit: GenerationRequest, name: str, scorer: Scorer | None
) -> BackendOutput:
    """backend.generate(unit), retried with half the batch size after each out-of-memory
    error (the units already recorded are kept)."""
    while True:
        try:
            return backend.generate(unit, scorer)
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            if not backend.shrink_batch():
                raise EvallaunchError(
                    f"out of accelerator memory in unit {name} with backend.batch_size=1 "
                    f"({str(err).splitlines()[0] if str(err) else type(err).__name__})",
                    hint="spread the model over more GPUs (parallelism.tensor_parallel_size) "
                    "or lower model.max_model_length; `evallaunch plan` shows the memory "
                    "arithmetic",
                ) from None
            log.warning(
                "Out of memory in unit %s: retrying it with backend.batch_size=%d",
                name,
                backend.batch_size,
            )


#: The smallest auto-sized unit, in problems.
MIN_AUTO_PROBLEMS = 32


def resolve_problems_per_unit(
    value: Any, engine: EngineSettings, samples_per_unit: int, num_problems: int
) -> int:
    """`sampling.problems_per_unit`: auto holds enough sequences to keep every replica's
    slots full between units, and at least MIN_AUTO_PROBLEMS problems (0: all)."""
    if value != "auto":
        if not isinstance(value, int) or value < 0:
            raise EvallaunchError(
                f"sampling.problems_per_unit={value!r} is invalid: expected auto or a number "
                ">= 0 (0: all at once)"
            )
        return value
    if num_problems <= 1:
        return 1
    fill = auto_problems_per_unit(
        engine.replicas,
        engine.max_num_seqs or DEFAULT_SLOTS,
        max(samples_per_unit, 1),
        max(num_problems, 1),
    )
    return min(max(fill, MIN_AUTO_PROBLEMS), max(num_problems, 1))
