"""Final-answer extraction and equivalence checking for math benchmarks, on math_verify.

math_verify is called without its time limits (evallaunch.compat.math_verify): scores depend
on neither thread nor load, and answers that would make sympy build astronomically large
numbers (``9^{9^{9^9}}``, ``1000000!``) are compared as strings only.
"""

from __future__ import annotations

import math
import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sympy
from math_verify import ExprExtractionConfig, LatexExtractionConfig

from evallaunch.compat.math_verify import parse_untimed, verify_untimed
from evallaunch.scoring.math_notation import (
    angle_unit,
    base_number,
    clean_separators,
    has_percent,
    same_base_number,
    strip_percent,
    unit_of,
)
from evallaunch.scoring.math_structures import (
    exact,
    is_set_like,
    real_set,
    same_ordered_pair,
    same_real_set,
)

__all__ = ["MathScore", "score_math", "strip_think"]


# Fixed configs (math_verify caches compiled regexes for one config). Anchored: \boxed{}
# always counts, free text only after "answer"/"final answer is" (truncated text: nothing).
_CONFIGS = (
    LatexExtractionConfig(try_extract_without_anchor=False),
    ExprExtractionConfig(try_extract_without_anchor=False),
)
_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])")
_MAX_ANSWER_CHARS = 1000  # longer "answers" are compared as strings only
_MAX_LOG10 = 10_000.0  # refuse symbolic work on numbers with more digits than this
_FACTORIALS = ("factorial", "factorial2", "subfactorial", "gamma", "binomial")
_TEXT_RE = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_NOISE_RE = re.compile(r"\\left|\\right|\\[,;:! ]|\\displaystyle|\$|\s")
_WORDS_RE = re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox)\s*\{\s*\(?[A-Za-z][A-Za-z ]*\)?\s*\}")
_PLAIN_NUMBER_RE = re.compile(r"-?(\d+\.?\d*|\.\d+)")
_AND_RE = re.compile(r"\\text\{\s*and\s*\}|\\land|\\wedge|\band\b")


@dataclass(frozen=True)
class MathScore:
    """Result of scoring one completion: the extracted answer and its correctness; `error`
    is the traceback when the scorer itself failed (the completion then scores as wrong)."""

    extracted: str | None
    correct: bool
    error: str | None = field(default=None, repr=False)


def strip_think(text: str) -> str:
    """The answer part of a reasoning model's completion: what follows its thinking.

    The rule, for every path that reads answers (evallaunch's scoring, and the harnesses'
    with `benchmark.strip_think`): R1-style models think between ``<think>`` and
    ``</think>``, the opening tag often written by the chat template into the prompt, so
    that only the closing one is in the completion. The answer is what follows the last
    ``</think>``, cut before a later ``<think>`` (thinking that starts again and never
    ends), without its leading whitespace. A completion whose thinking never ends (a
    ``<think>`` and no ``</think>`` after it) has no answer: ``""``. A completion without
    either tag is returned as it is.
    """
    answer = text.rsplit("</think>", 1)[-1].split("<think>", 1)[0]
    return text if answer == text else answer.lstrip()


def _last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (or ``\\boxed x``) in text."""
    for match in reversed(list(_BOX_RE.finditer(text))):
        after = text[match.end() :]
        body, depth, i = after.lstrip(), 0, 0
        if not body.startswith("{") and after[:1].isspace() and body:
            return re.split(r"[\s$]", body, maxsplit=1)[0].rstrip(".,")
        while body.startswith("{") and i < len(body):
            depth += {"{": 1, "}": -1}.get(body[i], 0)
            if depth == 0:
                return body[1:i].strip()
            i += 2 if body[i] == "\\" else 1
    return None


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
        return math.inf if exponent > 8 else max(_log10_bound(expr.base), 1.0) * 10**exponent
    if type(expr).__name__ in _FACTORIALS:
        arg = max((_log10_bound(a) for a in expr.args), default=0.0)
        return math.inf if arg > 8 else 10**arg * (arg + 1.0)
    return sum((_log10_bound(a) for a in expr.args), 1.0)


def _is_tame(value: Any) -> bool:
    try:
        return isinstance(value, str) or _log10_bound(value) <= _MAX_LOG10
    except (RecursionError, OverflowError, ValueError, TypeError):
        return False


@lru_cache(maxsize=4096)
def _parse_answer(answer: str) -> tuple[Any, ...]:
    if len(answer) > _MAX_ANSWER_CHARS:
        return (answer,)
    return tuple(_parse("\\boxed{" + clean_separators(answer) + "}")) or (answer,)


def _parse(text: str) -> list[Any]:
    """math_verify parse with timeouts off, dropping values unsafe to compare."""
    return [v for v in parse_untimed(text, _CONFIGS) if _is_tame(v)]


def _normalize(answer: str) -> str:
    """Formatting-insensitive string form: no ``\\text{}``, spacing or ``$``."""
    while (unwrapped := _TEXT_RE.sub(r"\1", answer)) != answer:
        answer = unwrapped
    answer = _NOISE_RE.sub("", answer).rstrip(".")
    if re.fullmatch(r"\([A-Za-z]\)", answer):  # multiple choice: "(C)" == "C"
        answer = answer[1]
    return answer


def _as_int(answer: str) -> int | None:
    text = _normalize(answer).replace("{", "").replace("}", "")
    text = text[1:-1] if text.startswith("(") and text.endswith(")") else text
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None


def _extract(text: str) -> tuple[str, Sequence[Any]] | None:
    """(answer string, math_verify values) of the final answer in text, if any."""
    boxed = _last_boxed(text)
    if boxed is not None:
        if (number := _as_int(boxed)) is not None:  # most answers: no need to parse
            return boxed, (sympy.Integer(number),)
        return (boxed, _parse_answer(boxed)) if boxed else None
    values = _parse(text)
    strings = [v for v in values if isinstance(v, str)]
    return ((strings or [str(values[0])])[0], values) if values else None


def _same_text(answer: str, gold: str) -> bool:
    ours, theirs = _normalize(answer), _normalize(gold)
    if ours and ours == theirs:
        return True
    # \text{East} == \text{east}; not for variables (R is not r)
    return bool(_WORDS_RE.fullmatch(gold.strip())) and ours.lower() == theirs.lower()


def _exact_values(answer: str) -> list[Any]:
    return [exact(v) for v in _parse_answer(answer)]


def _scaled(values: list[Any], factor: Any) -> list[Any]:
    return [v * factor for v in values if isinstance(v, sympy.Expr)]


def _angle_factor(answer: str, gold: str) -> Any:
    """What the answer's value is multiplied by to be in the gold's angle unit (None: 1).
    A gold with pi and no unit is in radians; an answer with pi, against degrees too."""
    ours, theirs = angle_unit(answer), angle_unit(gold)
    theirs = theirs or ("radian" if "\\pi" in gold else None)
    ours = ours or ("radian" if "\\pi" in answer and theirs == "degree" else None)
    if ours is None or theirs is None or ours == theirs:
        return None
    return sympy.pi / 180 if ours == "degree" else 180 / sympy.pi


def _same_set(golds: Sequence[Any], preds: Sequence[Any], answer: str, gold: str) -> bool | None:
    """Set-of-reals answers (intervals, inequalities, ``x \\in S``) compared exactly; None
    when neither side is one."""
    g = next((v for v in golds if not isinstance(v, str)), None)
    p = next((v for v in preds if not isinstance(v, str)), None)
    if g is None or p is None or not (is_set_like(g) or is_set_like(p)):
        return None
    if not answer.lstrip().startswith("\\{"):
        pair = same_ordered_pair(g, p)
        if pair is not None:
            return pair
    ours = real_set(p, conjunction=bool(_AND_RE.search(answer)))
    theirs = real_set(g, conjunction=bool(_AND_RE.search(gold)))
    return ours is not None and theirs is not None and same_real_set(theirs, ours)


def _matches(answer: str, values: Sequence[Any], gold: str, integer_answer: bool) -> bool:
    gold = (_last_boxed(gold) or gold).strip()  # a bare answer or a solution with a box
    gold_int, pred_int = _as_int(gold), _as_int(answer)
    if integer_answer and gold_int is not None and pred_int is not None:
        return pred_int == gold_int
    if _same_text(answer, gold):
        return True
    gold_base = base_number(gold)
    if gold_base is not None and gold_base.base is not None:
        pred_base = base_number(answer)
        return pred_base is not None and same_base_number(gold_base, pred_base)
    gold_unit, pred_unit = unit_of(gold), unit_of(answer)
    if gold_unit and pred_unit and gold_unit != pred_unit:
        return False
    golds, preds = _exact_values(gold), [exact(v) for v in values]
    if has_percent(answer) and not has_percent(gold):
        # 25% is 0.25; it is also 25 when the question asks for a percentage, whose gold
        # is then a plain number
        numbers = _exact_values(strip_percent(answer))
        preds = _scaled(numbers, sympy.Rational(1, 100))
        preds += numbers if _PLAIN_NUMBER_RE.fullmatch(gold) else []
    elif has_percent(gold) and not has_percent(answer):
        golds = _exact_values(strip_percent(gold))
        golds += _scaled(golds, sympy.Rational(1, 100))
    factor = _angle_factor(answer, gold)
    if factor is not None:
        preds = _scaled(preds, factor)
    decided = _same_set(golds, preds, answer, gold)
    if decided is not None:
        return decided
    return verify_untimed(golds, preds)


def score_math(completion: str, gold: str, *, integer_answer: bool = False) -> MathScore:
    """Extracts the final answer from a completion and checks it against the gold answer.

    The last ``\\boxed{}`` after the think block wins, else math_verify's anchored
    extraction ("the final answer is $...$", "Answer: 5").

    Args:
        completion: Raw model output, possibly with ``<think>`` reasoning.
        gold: Reference answer, either bare (``\\frac{1}{2}``, ``025``) or a full
            solution whose last ``\\boxed{}`` holds the answer.
        integer_answer: Gold is an integer (AIME): plain integers compare by value,
            so leading zeros do not matter.

    Returns:
        The extracted answer (canonical short string, None if none was found) and
        whether it matches. Never raises: an exception inside the scorer scores as
        incorrect, with its traceback as the score's `error`.
    """
    try:
        found = _extract(strip_think(completion))
        if found is None:
            return MathScore(None, False)
        answer, values = found
        parsed = [v for v in values if not isinstance(v, str)]
        extracted = " ".join(str(parsed[0] if parsed else answer).split())[:200]
    except Exception:
        return MathScore(None, False, traceback.format_exc())
    try:
        return MathScore(extracted, _matches(answer, values, gold, integer_answer))
    except Exception:
        return MathScore(extracted, False, traceback.format_exc())
