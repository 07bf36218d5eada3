"""Sample-level correctness aggregated into pass@k, maj@k, standard errors and CIs."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["MetricValue", "majority_vote", "pass_at_k", "summarize"]


@dataclass
class MetricValue:
    """One aggregate metric over a benchmark.

    Attributes:
        name: Metric key, e.g. ``pass@1``, ``pass@8``, ``maj@16``.
        value: Mean over problems, a fraction in [0, 1].
        stderr: Standard error of the mean over problems (None for a single problem).
        ci_low: Lower end of the bootstrap 95% percentile interval (None if not computed).
        ci_high: Upper end of that interval.
        k: Samples per problem the metric looks at.
        n: Number of problems averaged over.
    """

    name: str
    value: float
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    k: int | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as a plain, JSON-serialisable dict."""
        return asdict(self)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k).

    Args:
        n: Samples drawn for the problem.
        c: How many of them are correct.
        k: Attempts allowed.

    Returns:
        Probability that at least one of k samples drawn without replacement is correct.

    Raises:
        ValueError: If not 0 <= c <= n and 1 <= k <= n.
    """
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def majority_vote(answers: list[str | None], correct: list[bool], k: int) -> bool:
    """maj@k for one problem: is the most common answer among the first k samples correct?

    Args:
        answers: Extracted answer per sample (None where nothing was extracted).
        correct: Correctness per sample, aligned with answers.
        k: Number of leading samples that vote.

    Returns:
        Correctness of the most common non-None answer (ties go to the answer seen
        first); False if no sample has an answer.

    Raises:
        ValueError: If k < 1 or fewer than k answers or correctness flags are given.
    """
    if k < 1 or len(answers) < k or len(correct) < k:
        raise ValueError(f"maj@{k} needs k >= 1 and at least k samples, got {len(answers)}")
    votes = Counter(a for a in answers[:k] if a is not None)
    if not votes:
        return False
    # Counter.most_common keeps first-insertion order among equal counts.
    winner = votes.most_common(1)[0][0]
    return bool(correct[answers.index(winner)])


def _metric(name: str, scores: np.ndarray, k: int, seed: int, n_bootstrap: int) -> MetricValue:
    num = len(scores)
    value = float(scores.mean())
    stderr = float(scores.std(ddof=1) / np.sqrt(num)) if num > 1 else None
    ci_low = ci_high = None
    if num > 1 and n_bootstrap > 0:
        rng = np.random.default_rng(seed)
        means = scores[rng.integers(0, num, size=(n_bootstrap, num))].mean(axis=1)
        ci_low, ci_high = (float(q) for q in np.percentile(means, [2.5, 97.5]))
    return MetricValue(name, value, stderr, ci_low, ci_high, k, num)


def _pass_ks(n: int) -> list[int]:
    ks = [2**i for i in range(1, n.bit_length()) if 2**i <= n]
    return ks if n < 2 or n in ks else [*ks, n]


def summarize(
    correct: list[list[bool]],
    answers: list[list[str | None]] | None = None,
    *,
    seed: int = 0,
    n_bootstrap: int = 1000,
    ragged: bool = False,
) -> dict[str, MetricValue]:
    """Aggregates per-sample correctness into benchmark metrics.

    Args:
        correct: Per problem, the correctness of each of its n samples (same n for all).
        answers: Per problem, the extracted answer of each sample; enables maj@n.
        seed: Seed for the bootstrap resampling over problems.
        n_bootstrap: Bootstrap resamples for the 95% CIs (0 disables them).
        ragged: Allow problems with different numbers of samples (adaptive sampling):
            pass@1 averages each problem's own mean, pass@k goes up to the smallest
            count, and there is no maj@n.

    Returns:
        ``pass@1``, ``pass@k`` for k = 2, 4, 8, ... <= n (and k = n), and ``maj@n``
        when answers are given and n > 1, each with stderr and bootstrap CI over
        problems (None for a single problem).

    Raises:
        ValueError: If there are no problems, no samples, or ragged/misaligned input.
    """
    if not correct or not all(correct):
        raise ValueError("summarize needs at least one problem with at least one sample")
    n = min(len(row) for row in correct)
    if not ragged and any(len(row) != n for row in correct):
        raise ValueError("every problem must have the same number of samples")
    if answers is not None and (
        len(answers) != len(correct)
        or any(len(a) != len(c) for a, c in zip(answers, correct, strict=False))
    ):
        raise ValueError("answers must have the same shape as correct")
    sizes = np.array([len(row) for row in correct])
    counts = np.array([sum(row) for row in correct])
    results = {"pass@1": _metric("pass@1", counts / sizes, 1, seed, n_bootstrap)}
    for k in _pass_ks(n):
        scores = np.array(
            [pass_at_k(int(m), int(c), k) for m, c in zip(sizes, counts, strict=True)]
        )
        results[f"pass@{k}"] = _metric(f"pass@{k}", scores, k, seed, n_bootstrap)
    if (sizes != n).any():
        return results
    if answers is not None and n > 1:
        votes = np.array(
            [float(majority_vote(a, c, n)) for a, c in zip(answers, correct, strict=True)]
        )
        results[f"maj@{n}"] = _metric(f"maj@{n}", votes, n, seed, n_bootstrap)
    return results
