"""Adaptive-sampling settings per benchmark (helper of bench/gpu/schedule.py).

For each benchmark and stopping rule (evallaunch.job.sampling's `interval` and `neyman`): the
settings (budget n, samples_per_unit, min_samples, and ci_width or match_n) that keep, for
every model, the seed-to-seed standard deviation of pass@1 (problems held fixed) at most
that of open-r1's fixed-n run, fewest tokens first (suite picks among them the fewest
GPU-hours: rounds a chunk waits for cost wall time on a small benchmark). Monte Carlo
over seeds with evallaunch.job.sampling's rule functions (workload.drawn_counts); the chosen
settings are checked again on fresh seeds, with the bias of stopping on the data (against
the fixed-n run's mean, unbiased) and the root mean square error that bias and spread make.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.gpu import workload as wl

CI_GRID = tuple(round(0.05 * k, 2) for k in range(1, 21))
MATCH_GRID = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.4, 1.6, 1.8, 2.0)  # match_n / open-r1's n
SPLITS = (1, 2, 4, 8, 16, 32, 64)
GAIN = 0.99  # adaptive only when its jobs take at most this share of fixed n's GPU-hours
RULES = ("interval", "neyman")


@dataclass
class Choice:
    """The chosen settings of a benchmark for one rule, checked on fresh seeds per model."""

    benchmark: str
    rule: wl.Adaptive
    tokens_ratio: float  # adaptive / fixed-n tokens, summed over the models (fresh seeds)
    sd_ratio: dict[str, float]  # per model: sd adaptive / sd fixed
    rmse_ratio: dict[str, float]  # per model: rms error adaptive / sd fixed
    samples: dict[str, float]  # per model: mean samples per problem
    bias: dict[str, float]  # per model: mean pass@1 adaptive - fixed n, in points
    noise: dict[str, float]  # per model: Monte Carlo error of that difference, in points
    honest: dict[str, float]  # neyman: per model, sd at match_n = n / sd fixed (1: exact)
    sd_fixed: dict[str, float]  # per model: sd of the fixed-n run, in points
    hours_ratio: float = 1.0  # GPU-hours of the benchmark's jobs / fixed n (suite.pick)
    adopted: wl.Adaptive | None = None  # the settings the suite runs (suite.pick)


def candidates(n: int) -> list[tuple[int, int, int]]:
    """(budget, samples_per_unit, min_samples) to try for open-r1's n: budgets of n, 2n
    (4n for small n), rounds of at least n / 8 samples, the first check after 1, 2 or 4."""
    out = []
    for budget in (n, 2 * n, 4 * n) if n <= 8 else (n, 2 * n):
        for spu in SPLITS:
            if spu > budget or budget % spu or spu * 8 < n:
                continue
            for k in (1, 2, 4):
                if spu * k < budget:
                    out.append((budget, spu, spu * k))
    return out


def _widest(grid: tuple[float, ...], fits: Callable[[float], bool], wider_is_larger: bool) -> int:
    """Index of the cheapest grid value that fits (-1: none), by bisection: the spread is
    monotonic in the value (ci_width: grows; match_n: shrinks)."""
    order = list(range(len(grid))) if wider_is_larger else list(range(len(grid)))[::-1]
    lo, hi = -1, len(order) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(grid[order[mid]]) else (lo, mid - 1)
    return order[lo] if lo >= 0 else -1


def options(benchmark: str, models: list[str], seeds: int, rule: str) -> list[wl.Adaptive]:
    """Settings of `rule` that keep every model's spread at most open-r1's fixed-n spread,
    the cheapest ci_width or match_n per (budget, samples_per_unit, min_samples), fewest
    tokens first."""
    n = wl.BENCHMARKS[benchmark][0]
    probs = {m: wl.problems(m, benchmark) for m in models}
    largest = max(b for b, _, _ in candidates(n))
    draws = {m: wl.seeds_of(probs[m], largest, seeds, seed=11) for m in models}
    base = {m: wl.spread(draws[m], wl.fixed(n)) for m in models}
    found: list[tuple[float, wl.Adaptive]] = []
    for budget, spu, low in candidates(n):

        def make(value: float, budget: int = budget, spu: int = spu, low: int = low):
            if rule == "neyman":  # at most the budget, as preflight requires
                match_n = min(round(value * n), budget)
                return wl.Adaptive(budget, spu, low, rule="neyman", match_n=match_n)
            return wl.Adaptive(budget, spu, low, ci_width=value)

        def fits(value: float) -> bool:
            got = {m: wl.spread(draws[m], make(value)) for m in models}
            return all(got[m].sd <= base[m].sd for m in models)

        grid = MATCH_GRID if rule == "neyman" else CI_GRID
        index = _widest(grid, fits, wider_is_larger=rule != "neyman")
        if index < 0:
            continue
        settings = make(grid[index])
        found.append((sum(wl.spread(draws[m], settings).tokens for m in models), settings))
    return [settings for _, settings in sorted(found, key=lambda x: x[0])]


def rmse(ours: wl.Spread, base: wl.Spread) -> float:
    """Root mean square error of pass@1 around the fixed-n run's mean (unbiased)."""
    return float((ours.sd**2 + (ours.mean - base.mean) ** 2) ** 0.5)


def check(benchmark: str, models: list[str], settings: wl.Adaptive, seeds: int) -> Choice:
    """The settings on fresh seeds: spread, samples, tokens and bias against fixed n."""
    n = wl.BENCHMARKS[benchmark][0]
    probs = {m: wl.problems(m, benchmark) for m in models}
    sd_ratio, rmse_ratio, samples, bias, noise, honest, sd_fixed = {}, {}, {}, {}, {}, {}, {}
    ours_tokens = base_tokens = 0.0
    for m in models:
        fresh = wl.seeds_of(probs[m], max(settings.budget, n), seeds, seed=23)
        base, ours = wl.spread(fresh, wl.fixed(n)), wl.spread(fresh, settings)
        sd_ratio[m], samples[m] = ours.sd / base.sd, ours.samples
        rmse_ratio[m], sd_fixed[m] = rmse(ours, base) / base.sd, 100 * base.sd
        bias[m] = 100 * (ours.mean - base.mean)
        noise[m] = 100 * (ours.sd**2 + base.sd**2) ** 0.5 / np.sqrt(seeds)
        ours_tokens, base_tokens = ours_tokens + ours.tokens, base_tokens + base.tokens
        if settings.rule == "neyman":
            exact = wl.Adaptive(**{**settings.__dict__, "match_n": n})
            honest[m] = wl.spread(fresh, exact).sd / base.sd
    ratio = ours_tokens / base_tokens
    return Choice(
        benchmark, settings, ratio, sd_ratio, rmse_ratio, samples, bias, noise, honest, sd_fixed
    )


def counts_for(settings: wl.Adaptive, correct: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Samples each problem draws in one run (its correctness and lengths [problem, sample],
    at least the budget's worth)."""
    draws = wl.Draws(np.cumsum(correct, axis=-1), np.cumsum(length, axis=-1, dtype=np.float64))
    return wl.drawn_counts(draws, settings)
