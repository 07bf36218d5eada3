"""Backend-independent scoring: math answer checking and pass@k-style metrics."""

from evallaunch.scoring.math_answers import MathScore, score_math, strip_think
from evallaunch.scoring.metrics import MetricValue, majority_vote, pass_at_k, summarize

__all__ = [
    "MathScore",
    "MetricValue",
    "majority_vote",
    "pass_at_k",
    "score_math",
    "strip_think",
    "summarize",
]
