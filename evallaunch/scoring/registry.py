"""Scorers by name: the single place both backends and `evallaunch score` grade a completion."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from evallaunch.errors import EvallaunchError
from evallaunch.scoring.choice import score_choice
from evallaunch.scoring.math_answers import MathScore, score_math

Scorer = Callable[[str, str], MathScore]


def _score_code(completion: str, gold: str) -> MathScore:
    from evallaunch.scoring.code import score_code  # runs programs: imported on use

    return score_code(completion, gold)


SCORERS: dict[str, Scorer] = {
    "math": score_math,
    "integer": partial(score_math, integer_answer=True),
    "choice": score_choice,
    "code": _score_code,
}


def score_batch(name: str, completions: list[str], golds: list[str]) -> list[MathScore]:
    """Score many completions; code runs its programs in parallel across cores."""
    if name == "code":
        from evallaunch.scoring.code import score_code_batch

        return score_code_batch(completions, golds)
    scorer = get_scorer(name)
    return [scorer(completion, gold) for completion, gold in zip(completions, golds, strict=True)]


def get_scorer(name: str) -> Scorer:
    """Return the scorer called `name` (the value of `benchmark.scorer`)."""
    try:
        return SCORERS[name]
    except KeyError:
        raise EvallaunchError(
            f"benchmark.scorer={name!r} is not a known scorer; valid choices: {sorted(SCORERS)}"
        ) from None
