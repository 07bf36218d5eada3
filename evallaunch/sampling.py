"""Drawing a job's samples in units recorded in the sample ledger, optionally adaptively.

A unit is (a block of sample indices) x (a chunk of problems). Its seed is derived from the
job's seed, the block and the chunk's problem ids, so a unit draws the same samples whether
it runs in an uninterrupted job or in a rerun after a crash: a rerun skips the units the
ledger holds and its results equal those of an uninterrupted run. Blocks run in order; with
`sampling.adaptive`, a problem leaves the later blocks once its pass@1 is settled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import logging
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from evallaunch.backends.base import (
    Backend,
    BackendOutput,
    Completion,
    GenerationRequest,
    is_out_of_memory,
)
from evallaunch.data import Problem, write_problems
from evallaunch.engine import resolve_problems_per_unit, units_to_fill
from evallaunch.errors import EvallaunchError
from evallaunch.grading import score_completions
from evallaunch.ledger import SampleKey, SampleLedger

log = logging.getLogger(__name__)

Z_95 = 1.959964
# How often the scheduler looks at the servers' answers while units generate.
ANSWERED_POLL_S = 0.2


@dataclass
class SamplingReport:
    """How the samples of a job were obtained (written to results.json as `sampling`)."""

    budget_n: int
    units: int = 0
    units_reused: int = 0
    samples_reused: int = 0
    samples_generated: int = 0
    units_in_flight: int = 1
    adaptive: dict[str, Any] | None = None
    samples_per_problem: dict[str, float] = field(default_factory=dict)


def wilson_width(correct: int, total: int, z: float = Z_95) -> float:
    """Width of the Wilson score interval of a proportion (1.0 with no samples)."""
    if total == 0:
        return 1.0
    p = correct / total
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return 2 * spread / (1 + z * z / total)


def is_settled(correct: int, total: int, ci_width: float, min_samples: int) -> bool:
    """The adaptive stopping rule: at least min_samples drawn and the 95% Wilson interval
    of the problem's pass@1 narrower than ci_width."""
    return total >= min_samples and wilson_width(correct, total) < ci_width


# The neyman rule (sampling.adaptive_rule=neyman; docs/adaptive-sampling.md). The benchmark's
# pass@1 is the mean of the problems' means, of variance sum_i p_i (1 - p_i) / n_i / P^2 over
# seeds (problems fixed). Drawing sum_i n_i c_i tokens (c_i: a problem's tokens per sample),
# the counts of least variance are n_i = lambda x s_i / sqrt(c_i), s_i = sqrt(p_i (1 - p_i))
# (Neyman allocation, by a Lagrange multiplier). A problem stops once its count reaches that,
# with p shrunk to (right + 1) / (n + 2) (0/n and n/n do not stop it at once) and c its mean
# completion tokens over the mean of its chunk's pilot samples (index < min_samples, which
# every problem of the chunk has). lambda, from the pilot, gives the benchmark the variance
# of a fixed run of match_n samples per problem. Stopping on the data biases the problems'
# means a little (toward the extremes their first samples showed); bench/gpu_schedule.py
# measures it.


def shrunk_spread(correct: Any, total: Any) -> Any:
    """sqrt(p (1 - p)) at p = (correct + 1) / (total + 2): the spread of one sample of a
    problem, never 0 (numbers or numpy arrays)."""
    rate = (correct + 1) / (total + 2)
    return (rate * (1 - rate)) ** 0.5


def neyman_scale(match_n: float, spreads: Iterable[Any], costs: Iterable[Any]) -> Any:
    """lambda of the neyman rule: match_n x sum s sqrt(c) / sum s^2 over the problems (one
    spread and relative cost each; numbers, or numpy arrays of one value per run). With
    n_i = lambda s_i / sqrt(c_i) the benchmark's variance sum s_i^2 / n_i equals that of
    match_n samples each, sum s_i^2 / match_n."""
    top, bottom = 0.0, 0.0
    for spread, cost in zip(spreads, costs, strict=True):
        top = top + spread * cost**0.5
        bottom = bottom + spread * spread
    return match_n * top / bottom


def neyman_target(correct: Any, total: Any, relative_cost: Any, scale: Any) -> Any:
    """Samples the neyman rule gives a problem: scale x shrunk_spread / sqrt(relative cost)."""
    return scale * shrunk_spread(correct, total) / relative_cost**0.5


def is_settled_neyman(
    correct: int, total: int, relative_cost: float, scale: float, min_samples: int
) -> bool:
    """The neyman stopping rule: at least min_samples drawn and at least `neyman_target`."""
    return total >= min_samples and total >= neyman_target(correct, total, relative_cost, scale)


def unit_seed(seed: int, block: int, problem_ids: list[str]) -> int:
    """The seed of one unit: the same for the same unit in every run."""
    text = f"{seed}:{block}:" + "\x1f".join(problem_ids)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") >> 1


def _chunks(problems: list[Problem], size: int) -> list[list[Problem]]:
    size = size or max(1, len(problems))  # 0: all in one (none once all are settled)
    return [problems[start : start + size] for start in range(0, len(problems), size)]


def _settled(
    problems: list[Problem],
    ledger: SampleLedger,
    scorer: str,
    sampling: Any,
    before: int,
    graded: dict[SampleKey, bool],
) -> set[str]:
    """Problems of one chunk that sampling.adaptive_rule stops, judged on their samples with
    index < `before` only (a resumed job decides as the uninterrupted one did, whatever
    later samples its ledger holds). `graded` caches correctness."""
    keys = [(p.id, i) for p in problems for i in range(before) if (p.id, i) in ledger.samples]
    todo = [ledger.samples[key] for key in keys if key not in graded]
    for row in score_completions(todo, problems, scorer) if todo else []:
        graded[(row["problem_id"], row["sample_index"])] = bool(row["correct"])
    if sampling.adaptive_rule == "neyman":
        return _neyman_settled(keys, ledger, graded, sampling.match_n, sampling.min_samples)
    counts: dict[str, list[int]] = {}
    for pid, index in keys:
        correct_total = counts.setdefault(pid, [0, 0])
        correct_total[0] += int(graded[(pid, index)])
        correct_total[1] += 1
    return {
        pid
        for pid, (correct, total) in counts.items()
        if is_settled(correct, total, sampling.ci_width, sampling.min_samples)
    }


def _neyman_settled(
    keys: list[SampleKey],
    ledger: SampleLedger,
    graded: dict[SampleKey, bool],
    match_n: int,
    min_samples: int,
) -> set[str]:
    """The neyman rule over a chunk's samples `keys`; the pilot is every problem's samples
    with index < min_samples. Without token counts every cost is the same."""
    known = all(ledger.samples[key].num_tokens is not None for key in keys)
    drawn: dict[str, list[float]] = {}  # problem -> [correct, samples, tokens]
    pilot: dict[str, list[float]] = {}  # the same over the pilot samples
    for pid, index in keys:
        tokens = float(ledger.samples[(pid, index)].num_tokens or 0)
        for table in (drawn, pilot) if index < min_samples else (drawn,):
            row = table.setdefault(pid, [0.0, 0.0, 0.0])
            row[0] += graded[(pid, index)]
            row[1] += 1
            row[2] += tokens
    if not drawn:
        return set()
    reference = sum(r[2] for r in pilot.values()) / sum(r[1] for r in pilot.values())

    def cost(row: list[float]) -> float:
        return max(row[2] / row[1], 1.0) / max(reference, 1.0) if known else 1.0

    spreads = [shrunk_spread(r[0], r[1]) for r in pilot.values()]
    scale = neyman_scale(match_n, spreads, [cost(r) for r in pilot.values()])
    return {
        pid
        for pid, row in drawn.items()
        if is_settled_neyman(int(row[0]), int(row[1]), cost(row), scale, min_samples)
    }


@dataclass
class _Unit:
    """One unit of work: a block of sample indices x the active problems of one chunk."""

    block: int
    chunk: int
    problems: list[Problem]
    first: int
    size: int
    seed: int
    name: str
    keys: list[SampleKey]


class _Schedule:
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
        self.graded: dict[SampleKey, bool] = {}
        self.ready: list[tuple[int, int]] = []
        first_blocks = [0] if sampling.adaptive else range(self.blocks)
        for block in first_blocks:
            for chunk in range(len(self.chunks)):
                heapq.heappush(self.ready, (block, chunk))

    @property
    def planned_samples(self) -> int:
        """Samples of every unit (the budget: fewer with adaptive sampling)."""
        return len(self.request.problems) * self.request.n

    def next_unit(self) -> _Unit | None:
        """The first ready unit with problems left to sample, or None."""
        while self.ready:
            block, chunk = heapq.heappop(self.ready)
            first = block * self.block_size
            size = min(self.block_size, self.request.n - first)
            problems = self.chunks[chunk]
            if self.sampling.adaptive:
                settled = _settled(
                    problems,
                    self.ledger,
                    self.request.scorer,
                    self.sampling,
                    first,
                    self.graded,
                )
                problems = [p for p in problems if p.id not in settled]
                if not problems:
                    continue  # the whole chunk has settled
            seed = unit_seed(self.request.seed, block, [p.id for p in problems])
            keys = [(p.id, first + i) for p in problems for i in range(size)]
            name = f"b{block:04d}-{seed:08x}"
            return _Unit(block, chunk, problems, first, size, seed, name, keys)
        return None

    def done(self, unit: _Unit) -> None:
        """Unit recorded: with adaptive sampling, its chunk's next block becomes ready."""
        if self.sampling.adaptive and unit.block + 1 < self.blocks:
            heapq.heappush(self.ready, (unit.block + 1, unit.chunk))


def draw_samples(
    backend: Backend,
    request: GenerationRequest,
    ledger: SampleLedger,
    sampling: Any,
    units_in_flight: int | None = 1,
    answered: Callable[[str], int] | None = None,
) -> tuple[BackendOutput, SamplingReport]:
    """Generate every sample of `request` that the ledger lacks, unit by unit, with up to
    `units_in_flight` units generating at once (each recorded as soon as it finishes;
    None: as many as keep the engines' slots filled, `evallaunch.engine.units_to_fill`).

    `answered(unit)`: the unit's requests the servers have answered. A unit whose every
    sample is answered no longer counts as generating while its harness scores it, so the
    next unit's requests reach the servers meanwhile."""
    schedule = _Schedule(request, ledger, sampling)
    report = SamplingReport(budget_n=request.n)
    if sampling.adaptive:
        report.adaptive = {
            "rule": sampling.adaptive_rule,
            "ci_width": sampling.ci_width if sampling.adaptive_rule == "interval" else None,
            "match_n": sampling.match_n if sampling.adaptive_rule == "neyman" else None,
            "min_samples": sampling.min_samples,
        }
    planned: set[SampleKey] = set()  # this run's samples (the ledger may hold others)
    names: list[str] = []
    progress = Progress(schedule.planned_samples)

    def start(unit: _Unit) -> bool:
        """Count the unit in; True when it still has to be generated."""
        report.units += 1
        planned.update(unit.keys)
        names.append(unit.name)
        if ledger.has(unit.name, unit.keys):
            report.units_reused += 1
            report.samples_reused += len(unit.keys)
            progress.reused(len(unit.keys))
            schedule.done(unit)
            return False
        return True

    def finish(unit: _Unit, result: tuple[list[Completion], dict[str, float]]) -> None:
        completions, metrics = result
        ledger.record_unit(unit.name, completions, metrics)
        report.samples_generated += len(unit.keys)
        progress.generated(unit.name, completions)
        schedule.done(unit)

    def run(unit: _Unit) -> tuple[list[Completion], dict[str, float]]:
        return _run_unit(backend, request, unit)

    if units_in_flight is None:
        units_in_flight = units_to_fill(request.engine, schedule.unit_sequences)
    report.units_in_flight = units_in_flight
    if units_in_flight <= 1:
        while (unit := schedule.next_unit()) is not None:
            if start(unit):
                finish(unit, run(unit))
    else:
        backend.prepare(request)
        _run_overlapped(schedule, start, run, finish, units_in_flight, answered)
    n = request.n
    drawn = {
        problem.id: [
            ledger.samples[(problem.id, i)] for i in range(n) if (problem.id, i) in planned
        ]
        for problem in request.problems
    }
    report.samples_per_problem = _spread([len(v) for v in drawn.values()])
    completions = [c for samples in drawn.values() for c in samples]
    metrics = _weighted_metrics([ledger.units[name] for name in names])
    return BackendOutput(completions, metrics=metrics), report


def _run_overlapped(
    schedule: _Schedule,
    start: Callable[[_Unit], bool],
    run: Callable[[_Unit], Any],
    finish: Callable[[_Unit, Any], None],
    units_in_flight: int,
    answered: Callable[[str], int] | None = None,
) -> None:
    """Keep `units_in_flight` units generating in worker threads; record each in this
    thread as it finishes. On an error (or Ctrl-C) the units already finished stay
    recorded, units not started are dropped, and the error is raised."""
    most = 2 * units_in_flight  # generating + being scored by the harness
    pool = ThreadPoolExecutor(most, thread_name_prefix="evallaunch-unit")
    running: dict[Future[Any], _Unit] = {}

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


class Progress:
    """Logs each finished unit: samples done, tokens per second and the time left."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.tokens, self.new = total, 0, 0, 0
        self.clock = time.monotonic()

    def reused(self, samples: int) -> None:
        self.done += samples

    def generated(self, name: str, completions: list[Completion]) -> None:
        self.done += len(completions)
        self.new += len(completions)
        self.tokens += sum(c.num_tokens or 0 for c in completions)
        elapsed = max(time.monotonic() - self.clock, 1e-9)
        left = max(self.total - self.done, 0) * elapsed / max(self.new, 1)
        log.info(
            "Unit %s done: %d/%d samples, %.1f tokens/s, about %s left",
            name,
            self.done,
            self.total,
            self.tokens / elapsed,
            _duration(left),
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _run_unit(
    backend: Backend, request: GenerationRequest, unit: _Unit
) -> tuple[list[Completion], dict[str, float]]:
    work_dir = request.work_dir / "backend" / "units" / unit.name
    request = dataclasses.replace(
        request,
        problems=unit.problems,
        problems_file=write_problems(unit.problems, work_dir / "data" / "test.jsonl"),
        n=unit.size,
        seed=unit.seed,
        work_dir=work_dir,
        unit=unit.name,
    )
    log.info(
        "Unit %s: %d problems x %d samples (from index %d)",
        unit.name,
        len(unit.problems),
        unit.size,
        unit.first,
    )
    output = _generate_within_memory(backend, request, unit.name)
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


def _generate_within_memory(backend: Backend, unit: GenerationRequest, name: str) -> BackendOutput:
    """backend.generate(unit), retried with half the batch size after each out-of-memory
    error (the units already recorded are kept)."""
    while True:
        try:
            return backend.generate(unit)
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


def _weighted_metrics(units: list[dict[str, Any]]) -> dict[str, float]:
    """The backend's metrics over the units, each weighted by its number of samples (a
    metric some unit lacks is left out)."""
    totals: dict[str, float] = {}
    weights: dict[str, int] = {}
    for unit in units:
        for key, value in (unit.get("metrics") or {}).items():
            totals[key] = totals.get(key, 0.0) + float(value) * unit["samples"]
            weights[key] = weights.get(key, 0) + unit["samples"]
    expected = sum(unit["samples"] for unit in units)
    return {k: totals[k] / weights[k] for k in totals if weights[k] == expected}


def _spread(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    return {"min": min(values), "mean": sum(values) / len(values), "max": max(values)}
