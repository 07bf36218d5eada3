"""Scorers by name: the single place both backends and `evallaunch score` grade a completion."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from evallaunch.errors import EvallaunchError
from evallaunch.scoring.math_answers import MathScore, score_math

Scorer = Callable[[str, str], MathScore]

SCORERS: dict[str, Scorer] = {
    "math": score_math,
    "integer": partial(score_math, integer_answer=True),
}


def get_scorer(name: str) -> Scorer:
    """Return the scorer called `name` (the value of `benchmark.scorer`)."""
    try:
        return SCORERS[name]
    except KeyError:
        raise EvallaunchError(
            f"benchmark.scorer={name!r} is not a known scorer; valid choices: {sorted(SCORERS)}"
        ) from None
