"""When adaptive sampling stops drawing a problem's samples (`sampling.adaptive_rule`).

interval: once the 95% Wilson interval of its pass@1 is narrower than `ci_width`.
neyman: once it has its share of a cost-weighted allocation matching the precision of
`match_n` samples per problem (docs/adaptive-sampling.md). Both decide from the samples
drawn before the block, so a resumed job decides as the uninterrupted one did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from evallaunch.benchmarks.problem import Problem
from evallaunch.job.ledger import SampleKey, SampleLedger

Z_95 = 1.959964


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
# means a little (toward the extremes their first samples showed); bench/gpu/schedule.py
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


def settled_problems(
    problems: list[Problem], ledger: SampleLedger, sampling: Any, before: int
) -> set[str]:
    """Problems of one chunk that sampling.adaptive_rule stops, judged on their samples with
    index < `before` only (a resumed job decides as the uninterrupted one did, whatever
    later samples its ledger holds), by the grades the ledger recorded with them."""
    keys = [(p.id, i) for p in problems for i in range(before) if (p.id, i) in ledger.samples]
    graded = {key: ledger.grades[key].correct for key in keys}
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
