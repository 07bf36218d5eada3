"""Synthetic reasoning workloads for schedule.py: problems with a difficulty, samples
with a correctness and a completion length, and the seed-to-seed spread of pass@1 under
fixed-n and adaptive sampling (evallaunch.job.sampling's real stopping rule).

Difficulty: each problem's pass rate p ~ Beta(kappa x mean, kappa x (1 - mean)), mean = the
published pass@1 of the model on the benchmark (evallaunch/collect/data/reference/
open_r1.yaml). Lengths: a
correct sample's length is lognormal with median `median_c x model factor x problem factor`
(problem factor lognormal, spread PROBLEM_SIGMA), a wrong one WRONG_FACTOR times longer, both
with spread SAMPLE_SIGMA, cut at max_new_tokens (a cut sample is truncated and wrong).
`median_c` is set per benchmark so that R1-Distill-Qwen-7B's mean completion equals the
benchmark's conf `mean_new_tokens` (BENCHMARKS below), as in the public traces cited there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from evallaunch.job.stopping import is_settled, neyman_scale, neyman_target, shrunk_spread
from evallaunch.planning.throughput import capped_mean

REPO = Path(__file__).resolve().parents[2]
MAX_NEW_TOKENS = 32768
KAPPA = 1.2  # Beta concentration of per-problem pass rates: U-shaped, many all-right/all-wrong
SAMPLE_SIGMA = 0.5
PROBLEM_SIGMA = 0.3
WRONG_FACTOR = 2.0
AIME25_VS_AIME24 = (
    0.78  # no published aime25 pass@1 in evallaunch/collect/data/reference: aime24 x 0.78
)
LENGTH_SOURCES = (
    "mean completion lengths of R1-Distill-Qwen-7B at a 32k cap, rounded: conf/benchmark/*.yaml "
    "mean_new_tokens, in line with AdaptThink (arXiv:2505.13417, R1-Distill-Qwen-7B response "
    "lengths on MATH500 and AIME 2024) and open-r1's published eval details; wrong samples "
    f"{WRONG_FACTOR}x longer than right ones (DeepScaleR blog, 2025-02: R1-Distill-Qwen-1.5B on "
    "AIME 2024, incorrect responses ~3x the tokens of correct ones, cap included)"
)

# name: (open-r1 n, problems, prompt tokens); mean_new_tokens comes from conf/benchmark.
BENCHMARKS = {
    "math_500": (4, 500, 100),
    "aime24": (64, 30, 140),
    "aime25": (64, 30, 150),
    "gpqa_diamond": (8, 198, 260),
    "lcb_codegen": (16, 279, 550),
}
# conf/model name: (config dir in tests/data/model_configs, length factor vs 7B)
MODELS = {
    "r1_distill_qwen_1_5b": ("DeepSeek-R1-Distill-Qwen-1.5B", 1.15),
    "r1_distill_qwen_7b": ("DeepSeek-R1-Distill-Qwen-7B", 1.0),
    "r1_distill_llama_8b": ("DeepSeek-R1-Distill-Llama-8B", 1.05),
    "r1_distill_qwen_14b": ("DeepSeek-R1-Distill-Qwen-14B", 0.95),
    "r1_distill_qwen_32b": ("DeepSeek-R1-Distill-Qwen-32B", 0.92),
    "r1_distill_llama_70b": ("DeepSeek-R1-Distill-Llama-70B", 0.92),
}


def mean_new_tokens(benchmark: str) -> int:
    """The benchmark's conf `mean_new_tokens`."""
    conf = yaml.safe_load((REPO / "conf" / "benchmark" / f"{benchmark}.yaml").read_text())
    return int(conf["mean_new_tokens"])


@cache
def pass_at_1(model: str, benchmark: str) -> float:
    """Published pass@1 (open-r1's lighteval reproduction) as a fraction."""
    conf = yaml.safe_load(
        (REPO / "evallaunch" / "collect" / "data" / "reference" / "open_r1.yaml").read_text()
    )
    scores = conf["models"][f"deepseek-ai/{MODELS[model][0]}"]
    if benchmark == "aime25":
        return scores["aime24"] * AIME25_VS_AIME24 / 100
    return float(scores[benchmark]) / 100


@dataclass(frozen=True)
class Problems:
    """A benchmark's problems for one model: pass rate, prompt and right-answer median."""

    rate: np.ndarray
    prompt: np.ndarray
    median: np.ndarray


def problems(model: str, benchmark: str, seed: int = 0) -> Problems:
    """The fixed problems of a (model, benchmark) pair (same seed: same problems)."""
    _, count, prompt = BENCHMARKS[benchmark]
    rng = np.random.default_rng([seed, *map(ord, model + benchmark)])
    mean = min(max(pass_at_1(model, benchmark), 0.01), 0.99)
    rate = rng.beta(KAPPA * mean, KAPPA * (1 - mean), count)
    prompts = np.maximum(prompt * rng.lognormal(0, 0.3, count), 16).astype(int)
    factor = rng.lognormal(-(PROBLEM_SIGMA**2) / 2, PROBLEM_SIGMA, count)
    median = right_median(benchmark) * MODELS[model][1] * factor
    return Problems(rate, prompts, median)


@cache
def right_median(benchmark: str) -> float:
    """Median length of a right answer of the 7B model such that its mean completion (over
    problems of its pass rate, cap included) is the benchmark's mean_new_tokens."""
    target = mean_new_tokens(benchmark)
    mean = pass_at_1("r1_distill_qwen_7b", benchmark)
    grid = np.linspace(0.0005, 0.9995, 400)
    weights = _beta_weights(grid, mean)

    nodes = np.linspace(-2, 2, 9)  # the problem factor's normal quantiles, weighted
    node_weights = np.exp(-(nodes**2) / 2) / np.exp(-(nodes**2) / 2).sum()

    def expected(median: float) -> float:
        total = 0.0
        for z, w in zip(nodes, node_weights, strict=True):
            m = median * math.exp(PROBLEM_SIGMA * z - PROBLEM_SIGMA**2 / 2)
            right, wrong = _mean(m), _mean(m * WRONG_FACTOR)
            total += w * float(np.sum(weights * (grid * right + (1 - grid) * wrong)))
        return total

    lo, hi = 10.0, float(MAX_NEW_TOKENS)
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if expected(mid) < target else (lo, mid)
    return lo


def _mean(median: float) -> float:
    return capped_mean(median * math.exp(SAMPLE_SIGMA**2 / 2), MAX_NEW_TOKENS, SAMPLE_SIGMA)


def _beta_weights(grid: np.ndarray, mean: float) -> np.ndarray:
    a, b = KAPPA * mean, KAPPA * (1 - mean)
    log = (a - 1) * np.log(grid) + (b - 1) * np.log1p(-grid)
    w = np.exp(log - log.max())
    return w / w.sum()


def draw(probs: Problems, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(correct, length) arrays [problem, sample] of one seed's samples."""
    rng = np.random.default_rng(seed)
    shape = (len(probs.rate), samples)
    correct = rng.random(shape) < probs.rate[:, None]
    median = probs.median[:, None] * np.where(correct, 1.0, WRONG_FACTOR)
    length = np.ceil(median * rng.lognormal(0, SAMPLE_SIGMA, shape)).astype(int)
    truncated = length >= MAX_NEW_TOKENS
    return correct & ~truncated, np.minimum(length, MAX_NEW_TOKENS)


def expected_lengths(probs: Problems) -> tuple[np.ndarray, np.ndarray]:
    """Mean length of a right and of a wrong sample, per problem."""
    right = np.array([_mean(m) for m in probs.median])
    wrong = np.array([_mean(m * WRONG_FACTOR) for m in probs.median])
    return right, wrong


@dataclass(frozen=True)
class Adaptive:
    """Settings of `sampling.adaptive=true` (benchmark.n is the budget); rule "interval"
    stops at ci_width, "neyman" at the precision of match_n fixed samples."""

    budget: int
    samples_per_unit: int
    min_samples: int
    ci_width: float = 0.0
    rule: str = "interval"
    match_n: int = 0

    @property
    def off(self) -> bool:
        return self.rule == "interval" and self.ci_width <= 0

    def label(self) -> str:
        if self.off:
            return f"adaptive=false (n={self.budget}, samples_per_unit={self.samples_per_unit})"
        head = f"n={self.budget} samples_per_unit={self.samples_per_unit} "
        head += f"min_samples={self.min_samples} "
        if self.rule == "neyman":
            return head + f"adaptive_rule=neyman match_n={self.match_n}"
        return head + f"ci_width={self.ci_width:g}"


@dataclass
class Draws:
    """Running counts [seed, problem, sample] of right samples and of tokens."""

    right: np.ndarray
    tokens: np.ndarray


def seeds_of(probs: Problems, samples: int, seeds: int, seed: int) -> Draws:
    """`seeds` independent runs of `samples` samples per problem on fixed problems: right or
    wrong, and a length as in `draw` (a sample cut at the cap is wrong)."""
    rng = np.random.default_rng(seed)
    shape = (seeds, len(probs.rate), samples)
    right = rng.random(shape) < probs.rate[None, :, None]
    median = probs.median[None, :, None] * np.where(right, 1.0, WRONG_FACTOR)
    length = np.minimum(np.ceil(median * rng.lognormal(0, SAMPLE_SIGMA, shape)), MAX_NEW_TOKENS)
    right &= length < MAX_NEW_TOKENS
    return Draws(
        np.cumsum(right, axis=-1, dtype=np.int16), np.cumsum(length, axis=-1, dtype=np.float64)
    )


def drawn_counts(draws: Draws, rule: Adaptive) -> np.ndarray:
    """Samples each problem draws under the rule [..., problem]: checked before each round
    of samples_per_unit samples, as evallaunch.job.sampling does, with its rule functions."""
    budget, step = rule.budget, rule.samples_per_unit
    cum = draws.right
    counts = np.full(cum.shape[:-1], budget)
    if rule.off:
        return counts
    open_ = np.ones(cum.shape[:-1], dtype=bool)
    scale = reference = None
    if rule.rule == "neyman":
        first = rule.min_samples - 1
        pilot_tokens = draws.tokens[..., first] / rule.min_samples
        reference = np.maximum(pilot_tokens.mean(axis=-1, keepdims=True), 1.0)
        spreads = shrunk_spread(cum[..., first], rule.min_samples)
        costs = np.maximum(pilot_tokens, 1.0) / reference
        scale = neyman_scale(rule.match_n, spreads.T, costs.T)[..., None]  # per run
    for total in range(step, budget, step):
        if total < rule.min_samples:
            continue
        if rule.rule == "neyman":
            cost = np.maximum(draws.tokens[..., total - 1] / total, 1.0) / reference
            stop = total >= neyman_target(cum[..., total - 1], total, cost, scale)
        else:
            stop = _settle_table(total, rule.ci_width, rule.min_samples)[cum[..., total - 1]]
        stop &= open_
        counts[stop] = total
        open_ &= ~stop
    return counts


@cache
def _settle_table(total: int, ci_width: float, min_samples: int) -> np.ndarray:
    return np.array([is_settled(k, total, ci_width, min_samples) for k in range(total + 1)])


@dataclass
class Spread:
    """One rule over many runs: sd and mean of pass@1, samples and tokens per problem."""

    sd: float
    mean: float
    samples: float
    tokens: float


def spread(draws: Draws, rule: Adaptive) -> Spread:
    """pass@1 (the mean of the per-problem means) of every run under the rule."""
    counts = drawn_counts(draws, rule)
    index = counts[..., None] - 1
    hits = np.take_along_axis(draws.right, index, axis=-1)[..., 0]
    tokens = np.take_along_axis(draws.tokens, index, axis=-1)[..., 0]
    score = (hits / counts).mean(axis=-1)
    return Spread(
        float(score.std()), float(score.mean()), float(counts.mean()), float(tokens.mean())
    )


def fixed(n: int, samples_per_unit: int = 16) -> Adaptive:
    """Fixed n samples per problem (adaptive sampling off)."""
    return Adaptive(n, min(samples_per_unit, n), n)
