"""An answer string's values: math_verify's parse of it, with timeouts off and values too
large for sympy to compare dropped (``9^{9^{9^9}}``, ``1000000!`` are compared as strings);
latex2sympy's reading of the whole answer where math_verify finds none (it cuts
``F_n = \\sum_{k=0}^{n-1} ...`` at the ``=`` of the subscript)."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import sympy
from latex2sympy2_extended import latex2sympy

from evallaunch.compat.math_verify import parse_untimed
from evallaunch.scoring.math_extraction import ANCHORED
from evallaunch.scoring.math_notation import clean_separators

__all__ = ["parse_answer", "parse_text"]

_MAX_ANSWER_CHARS = 1000  # longer "answers" are compared as strings only
_MAX_LOG10 = 10_000.0  # refuse symbolic work on numbers with more digits than this
_FACTORIALS = ("factorial", "factorial2", "subfactorial", "gamma", "binomial")
_SUM_RE = re.compile(r"\\(?:sum|prod)_\{")


def _log10_bound(expr: Any) -> float:
    """Rough upper bound on log10 of the magnitudes sympy may meet evaluating expr."""
    if isinstance(expr, sympy.MatrixBase) and not isinstance(expr, sympy.Basic):
        return sum((_log10_bound(e) for e in expr), 0.0)
    if not isinstance(expr, sympy.Basic):
        return 0.0
    if isinstance(expr, sympy.Rational):
        return max(math.log10(abs(int(v)) or 1) for v in (expr.p, expr.q))
    if isinstance(expr, sympy.Float):
        return math.log10(abs(float(expr)) + 1.0)
    if isinstance(expr, sympy.Pow):
        exponent = _log10_bound(expr.exp)
        if exponent > 8:
            return math.inf
        return max(_log10_bound(expr.base), 1.0) * _magnitude(expr.exp, exponent)
    if type(expr).__name__ in _FACTORIALS:
        arg = max((_log10_bound(a) for a in expr.args), default=0.0)
        return math.inf if arg > 8 else 10**arg * (arg + 1.0)
    return sum((_log10_bound(a) for a in expr.args), 1.0)


def _magnitude(exponent: Any, log10_bound: float) -> float:
    """|exponent| when it is a number (a tame one: evaluating it is cheap), else its bound."""
    if exponent.is_number:
        try:
            return abs(complex(exponent.evalf(15)))
        except (TypeError, ValueError, OverflowError):
            pass
    return 10.0**log10_bound


def _is_tame(value: Any) -> bool:
    try:
        return isinstance(value, str) or _log10_bound(value) <= _MAX_LOG10
    except (RecursionError, OverflowError, ValueError, TypeError):
        return False


def parse_text(text: str, configs: tuple[Any, ...] = ANCHORED) -> list[Any]:
    """math_verify parse with timeouts off, dropping values unsafe to compare."""
    return [v for v in parse_untimed(text, configs) if _is_tame(v)]


def _whole(answer: str) -> list[Any]:
    """latex2sympy's value of the whole answer (a sum or product with an indexed bound)."""
    try:
        value = latex2sympy(answer)
    except Exception:  # latex2sympy raises bare Exceptions on what it cannot read
        return []
    return [value] if isinstance(value, sympy.Basic) and _is_tame(value) else []


@lru_cache(maxsize=4096)
def parse_answer(answer: str) -> tuple[Any, ...]:
    """The values of an answer string (a box's content): math_verify's, then the answer."""
    if len(answer) > _MAX_ANSWER_CHARS:
        return (answer,)
    cleaned = clean_separators(answer)
    values = parse_text("\\boxed{" + cleaned + "}")
    if _SUM_RE.search(cleaned) and not any(not isinstance(v, str) for v in values):
        values = _whole(cleaned) + values
    return tuple(values) or (answer,)
