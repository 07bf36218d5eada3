"""Backend-independent scoring: math answers (`math_*`), multiple-choice letters (`choice`),
programs run in the sandbox (`code`, `code_eval`, `sandbox`), the scorers by name
(`registry`) and pass@k-style metrics (`metrics`)."""

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
