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
import logging
import math
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
from evallaunch.errors import EvallaunchError
from evallaunch.grading import score_completions
from evallaunch.ledger import SampleKey, SampleLedger

log = logging.getLogger(__name__)

Z_95 = 1.959964


@dataclass
class SamplingReport:
    """How the samples of a job were obtained (written to results.json as `sampling`)."""

    budget_n: int
    units: int = 0
    units_reused: int = 0
    samples_reused: int = 0
    samples_generated: int = 0
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
    """Problems whose pass@1 interval is already narrower than sampling.ci_width, judged
    on their samples with index < `before` only (a resumed job decides as the uninterrupted
    one did, whatever later samples its ledger holds). `graded` caches correctness."""
    keys = [(p.id, i) for p in problems for i in range(before) if (p.id, i) in ledger.samples]
    todo = [ledger.samples[key] for key in keys if key not in graded]
    for row in score_completions(todo, problems, scorer) if todo else []:
        graded[(row["problem_id"], row["sample_index"])] = bool(row["correct"])
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


def draw_samples(
    backend: Backend, request: GenerationRequest, ledger: SampleLedger, sampling: Any
) -> tuple[BackendOutput, SamplingReport]:
    """Generate every sample of `request` that the ledger lacks, one unit at a time."""
    n = request.n
    block_size = min(sampling.samples_per_unit or n, n)
    report = SamplingReport(budget_n=n)
    settled: set[str] = set()
    graded: dict[SampleKey, bool] = {}
    planned: set[SampleKey] = set()  # this run's samples (the ledger may hold others)
    units: list[str] = []
    if sampling.adaptive:
        report.adaptive = {"ci_width": sampling.ci_width, "min_samples": sampling.min_samples}
    for block in range(math.ceil(n / block_size)):
        first, size = block * block_size, min(block_size, n - block * block_size)
        if sampling.adaptive:
            settled = _settled(request.problems, ledger, request.scorer, sampling, first, graded)
        active = [p for p in request.problems if p.id not in settled]
        for chunk in _chunks(active, sampling.problems_per_unit):
            keys = [(p.id, first + i) for p in chunk for i in range(size)]
            seed = unit_seed(request.seed, block, [p.id for p in chunk])
            name = f"b{block:04d}-{seed:08x}"
            report.units += 1
            planned.update(keys)
            units.append(name)
            if ledger.has(name, keys):
                report.units_reused += 1
                report.samples_reused += len(keys)
                continue
            completions, metrics = _run_unit(backend, request, chunk, seed, first, size, name)
            ledger.record_unit(name, completions, metrics)
            report.samples_generated += len(keys)
    drawn = {
        problem.id: [
            ledger.samples[(problem.id, i)] for i in range(n) if (problem.id, i) in planned
        ]
        for problem in request.problems
    }
    report.samples_per_problem = _spread([len(v) for v in drawn.values()])
    completions = [c for samples in drawn.values() for c in samples]
    metrics = _weighted_metrics([ledger.units[name] for name in units])
    return BackendOutput(completions, metrics=metrics), report


def _run_unit(
    backend: Backend,
    request: GenerationRequest,
    chunk: list[Problem],
    seed: int,
    first: int,
    size: int,
    name: str,
) -> tuple[list[Completion], dict[str, float]]:
    work_dir = request.work_dir / "backend" / "units" / name
    unit = dataclasses.replace(
        request,
        problems=chunk,
        problems_file=write_problems(chunk, work_dir / "data" / "test.jsonl"),
        n=size,
        seed=seed,
        work_dir=work_dir,
    )
    log.info("Unit %s: %d problems x %d samples (from index %d)", name, len(chunk), size, first)
    output = _generate_within_memory(backend, unit, name)
    wanted = {p.id for p in chunk}
    shifted = [
        dataclasses.replace(c, sample_index=first + c.sample_index)
        for c in output.completions
        if c.problem_id in wanted and c.sample_index < size
    ]
    if len(shifted) != len(chunk) * size:
        raise EvallaunchError(
            f"backend {backend.name} returned {len(shifted)} samples for unit {name}, "
            f"expected {len(chunk)} problems x {size}"
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
