"""Adaptive-sampling settings per benchmark (helper of gpu_schedule.py).

For each benchmark: the settings (budget n, samples_per_unit, min_samples, ci_width) that
draw the fewest tokens over the six models while keeping, for every model, the seed-to-seed
standard deviation of pass@1 (problems held fixed) at most that of open-r1's fixed-n run.
Monte Carlo over seeds with evallaunch.sampling's stopping rule (gpu_workload.drawn_counts);
the chosen settings are checked again on fresh seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import gpu_workload as wl
import numpy as np

CI_GRID = tuple(round(0.05 * k, 2) for k in range(1, 21))
SPLITS = (1, 2, 4, 8, 16)
GAIN = 0.99  # adaptive only when it draws at most this share of fixed n's tokens


@dataclass
class Choice:
    """The chosen rule of a benchmark, with its check on fresh seeds per model."""

    benchmark: str
    rule: wl.Adaptive
    tokens_ratio: float  # adaptive / fixed-n tokens, summed over the models
    sd_ratio: dict[str, float]  # per model: sd adaptive / sd fixed (fresh seeds)
    samples: dict[str, float]  # per model: mean samples per problem


def candidates(n: int) -> list[tuple[int, int, int]]:
    """(budget, samples_per_unit, min_samples) to try for open-r1's n: rounds of at least
    n / 8 samples, the first check after 1, 2 or 4 rounds."""
    out = []
    for budget in (n, 2 * n):
        for spu in SPLITS:
            if spu > budget or budget % spu or spu * 8 < n:
                continue
            for k in (1, 2, 4):
                if spu * k < budget:
                    out.append((budget, spu, spu * k))
    return out


def choose(benchmark: str, models: list[str], seeds: int, check_seeds: int) -> Choice:
    n = wl.BENCHMARKS[benchmark][0]
    probs = {m: wl.problems(m, benchmark) for m in models}
    lengths = {m: wl.expected_lengths(probs[m]) for m in models}
    draws = {m: wl.seeds_of(probs[m], 2 * n, seeds, seed=11) for m in models}
    fixed = {m: wl.spread(draws[m], lengths[m], n, None) for m in models}
    off = wl.Adaptive(n, min(16, n), n, 0.0)  # never settles: fixed n (adaptive off)
    best = (GAIN * sum(fixed[m][2] for m in models), off)
    for budget, spu, low in candidates(n):

        def fits(ci: float, budget: int = budget, spu: int = spu, low: int = low) -> bool:
            rule = wl.Adaptive(budget, spu, low, ci)
            return all(wl.spread(draws[m], lengths[m], n, rule)[0] <= fixed[m][0] for m in models)

        lo, hi = -1, len(CI_GRID) - 1  # the widest ci that fits (sd grows with ci)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(CI_GRID[mid]) else (lo, mid - 1)
        if lo < 0:
            continue
        rule = wl.Adaptive(budget, spu, low, CI_GRID[lo])
        tokens = sum(wl.spread(draws[m], lengths[m], n, rule)[2] for m in models)
        if tokens < best[0]:
            best = (tokens, rule)
    rule = best[1]
    tokens = sum(wl.spread(draws[m], lengths[m], n, rule)[2] for m in models)
    fresh = {m: wl.seeds_of(probs[m], 2 * n, check_seeds, seed=23) for m in models}
    sd_ratio, samples = {}, {}
    for m in models:
        sd_fixed = wl.spread(fresh[m], lengths[m], n, None)[0]
        sd, count, _ = wl.spread(fresh[m], lengths[m], n, rule)
        sd_ratio[m], samples[m] = sd / sd_fixed, count
    ratio = tokens / sum(fixed[m][2] for m in models)
    return Choice(benchmark, rule, ratio, sd_ratio, samples)


def counts_for(choice: Choice, correct: np.ndarray) -> np.ndarray:
    """Samples each problem draws in one run (its correctness [problem, sample], at least
    the budget's worth)."""
    return wl.drawn_counts(np.cumsum(correct, axis=-1), choice.rule)
