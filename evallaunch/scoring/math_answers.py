"""Final-answer scoring for math benchmarks: an answer found in the completion
(math_extraction) compared with the gold's, on math_verify and the rules of
docs/math-scoring.md.

math_verify is called without its time limits (evallaunch.compat.math_verify): scores depend
on neither thread nor load, and answers that would make sympy build astronomically large
numbers (``9^{9^{9^9}}``, ``1000000!``) are compared as strings only.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy

from evallaunch.compat.math_verify import verify_untimed
from evallaunch.scoring.math_equations import same_equation, same_function_values, unlabelled
from evallaunch.scoring.math_extraction import Answer, find_answer, find_gold
from evallaunch.scoring.math_notation import (
    angle_unit,
    base_number,
    clock_time,
    comma_decimal,
    full_precision_decimal,
    has_percent,
    number_with_unit_word,
    same_base_number,
    strip_percent,
    unit_of,
)
from evallaunch.scoring.math_parts import has_alternatives, match_parts, split_parts
from evallaunch.scoring.math_structures import (
    exact,
    is_set_like,
    real_set,
    same_ordered_pair,
    same_real_set,
)
from evallaunch.scoring.math_values import parse_answer as _parse_answer

__all__ = ["MathScore", "score_math", "strip_think"]

_TEXT_RE = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_NOISE_RE = re.compile(r"\\left|\\right|\\[,;:! ]|\\displaystyle|\$|\s")
_WORDS_RE = re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox)\s*\{\s*\(?[A-Za-z][A-Za-z ]*\)?\s*\}")
_PLAIN_NUMBER_RE = re.compile(r"-?(\d+\.?\d*|\.\d+)")
_DECIMAL_RE = re.compile(r"-?\d*\.\d+")
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


def _extract(text: str) -> Answer | None:
    """The final answer in text (docs/math-scoring.md, "Where the answer is")."""
    return find_answer(text)


def _values(part: str) -> tuple[Any, ...]:
    if (number := _as_int(part)) is not None:  # most answers: no need to parse
        return (sympy.Integer(number),)
    return _parse_answer(part)


def _shown(answer: Answer) -> str:
    """The extracted answer as results show it: the first parsed value of each part."""
    shown = []
    for part in answer.parts:
        parsed = [v for v in (answer.values or _values(part)) if not isinstance(v, str)]
        shown.append(str(parsed[0] if parsed else part))
    return " ".join(", ".join(shown).split())[:200]


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


def _full_precision(answer: str, preds: list[Any], gold: str, golds: list[Any]) -> bool | None:
    """A decimal printed to a float's precision against an exact number: equal when the
    number rounds to it at its last place (None: neither side is such a decimal)."""
    for text, others in ((answer, golds), (gold, preds)):
        found = full_precision_decimal(text)
        if found is None:
            continue
        number = next((v for v in others if isinstance(v, sympy.Expr) and v.is_number), None)
        if number is None or not number.is_real:
            return False
        error = abs(sympy.Rational(found[0]) - number)
        return bool(sympy.N(error, 40) <= sympy.Rational(1, 2) / sympy.Integer(10) ** found[1])
    return None


def _undefined(values: Sequence[Any]) -> bool:
    """A value math_verify reads as n/0 (``12:00``): equal to nothing but its own text."""
    return any(isinstance(v, sympy.Basic) and v.has(sympy.zoo, sympy.nan) for v in values)


def _same_answer(answer: str, values: Sequence[Any], gold: str, integer_answer: bool) -> bool:
    """One answer against one gold answer: the steps of docs/math-scoring.md."""
    gold_int, pred_int = _as_int(gold), _as_int(answer)
    if integer_answer and gold_int is not None and pred_int is not None:
        return pred_int == gold_int
    if _same_text(answer, gold):
        return True
    gold_base = base_number(gold)
    if gold_base is not None and gold_base.base is not None:
        pred_base = base_number(answer)
        return pred_base is not None and same_base_number(gold_base, pred_base)
    gold_time, pred_time = clock_time(gold), clock_time(answer)
    if gold_time and pred_time:  # 9:30 is not 3:10, as a ratio would be
        return gold_time == pred_time
    gold_word, pred_word = number_with_unit_word(gold), number_with_unit_word(answer)
    gold_unit = gold_word[1] if gold_word else unit_of(gold)
    pred_unit = pred_word[1] if pred_word else unit_of(answer)
    if gold_unit and pred_unit and gold_unit != pred_unit:
        return False
    if gold_word or pred_word:
        gold, answer = (gold_word or (gold,))[0], (pred_word or (answer,))[0]
        values = _values(answer)
    if (comma := comma_decimal(answer)) and _DECIMAL_RE.fullmatch(_normalize(gold)):
        answer, values = comma, _values(comma)
    if (comma := comma_decimal(gold)) and _DECIMAL_RE.fullmatch(_normalize(answer)):
        gold = comma
    golds, preds = _exact_values(gold), [exact(v) for v in values]
    if has_percent(answer) and has_percent(gold):
        golds, preds = _exact_values(strip_percent(gold)), _exact_values(strip_percent(answer))
    elif has_percent(answer):
        # 25% is 0.25; it is also 25 when the question asks for a percentage, whose gold
        # is then a plain number
        numbers = _exact_values(strip_percent(answer))
        preds = _scaled(numbers, sympy.Rational(1, 100))
        preds += numbers if _PLAIN_NUMBER_RE.fullmatch(gold) else []
    elif has_percent(gold):
        golds = _exact_values(strip_percent(gold))
        golds += _scaled(golds, sympy.Rational(1, 100))
    preds, golds = unlabelled(preds, golds), unlabelled(golds, preds)
    decided = _full_precision(answer, preds, gold, golds)
    if decided is not None:
        return decided
    if _undefined(golds) or _undefined(preds):
        return False
    factor = _angle_factor(answer, gold)
    if factor is not None:
        preds = _scaled(preds, factor)
    decided = _same_set(golds, preds, answer, gold)
    if decided is not None:
        return decided
    if any(same_equation(g, p) or same_function_values(g, p) for g in golds for p in preds):
        return True
    return verify_untimed(golds, preds)


def _matches(answer: Answer, gold: str, integer_answer: bool) -> bool:
    """The found answer against the gold: as one answer, else part by part when either
    is several (boxes, or alternatives with "and", "or", ``;``, ``\\pm``)."""
    theirs = find_gold(gold)
    if len(answer.parts) == 1 and len(theirs.parts) == 1:
        ours, their = answer.parts[0], theirs.parts[0]
        if _same_answer(ours, answer.values or _values(ours), their, integer_answer):
            return True
        if not (has_alternatives(ours) or has_alternatives(their)):
            return False
    our_parts = [piece for part in answer.parts for piece in split_parts(part)]
    their_parts = [piece for part in theirs.parts for piece in split_parts(part)]

    def same(ours: str, their: str) -> bool:
        return _same_answer(ours, _values(ours), their, integer_answer)

    if len(their_parts) == 1 < len(our_parts):  # one answer written several ways
        return all(same(ours, their_parts[0]) for ours in our_parts)
    return match_parts(our_parts, their_parts, same)


def score_math(completion: str, gold: str, *, integer_answer: bool = False) -> MathScore:
    """Extracts the final answer from a completion and checks it against the gold answer.

    The last ``\\boxed{}`` after the think block wins (with the boxes joined to it), unless
    an answer phrase follows it; else math_verify's anchored extraction ("the final answer
    is $...$", "Answer: 5"); else, in a finished text, its last expression.

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
        extracted = _shown(found)
    except Exception:
        return MathScore(None, False, traceback.format_exc())
    try:
        return MathScore(extracted, _matches(found, gold, integer_answer))
    except Exception:
        return MathScore(extracted, False, traceback.format_exc())
