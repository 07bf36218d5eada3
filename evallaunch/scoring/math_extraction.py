"""Where a completion's final answer is, and where a gold's is: the boxes that end a text,
an answer phrase after them, and the last expression of a finished text with neither.

Each function returns answer strings (LaTeX, as written); math_answers parses and compares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from math_verify import ExprExtractionConfig, LatexExtractionConfig

from evallaunch.compat.math_verify import parse_untimed

__all__ = ["ANCHORED", "Answer", "find_answer", "find_gold", "finished"]

# Fixed configs (math_verify caches compiled regexes for one config). Anchored: free text
# only after "answer"/"final answer is"; unanchored: the last expression of the text.
ANCHORED = (
    LatexExtractionConfig(try_extract_without_anchor=False),
    ExprExtractionConfig(try_extract_without_anchor=False),
)
UNANCHORED = (LatexExtractionConfig(), ExprExtractionConfig())

_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])")
_BRACE_RE = re.compile(r"\\.|[{}]", re.S)
# What may join the boxes of one answer: spacing, punctuation, math delimiters, \text{}
# wrappers, labels (``y_2 =``) and, with "and"/"or", a few words ("for part (b) and").
_JOIN_NOISE_RE = re.compile(
    r"\\(?:q?quad|[,;:! ]|\(|\)|\[|\]|\\)|\$|&|\\(?:text|textbf|textrm|mbox)\s*\{|\}"
)
_LABEL_RE = re.compile(r"[A-Za-z](?:_\{?\w+\}?)?(?:\([a-z]\))?\s*=")
_MAX_JOIN_CHARS = 40
_SEPARATORS_RE = re.compile(r"[\s,;]*")
_JOIN_WORDS_RE = re.compile(r"[\s,;]*(?:(?:[A-Za-z]+|\([a-z0-9]\))[\s,;]*)+")
# A box or an answer phrase math_verify could not read ("Answer $ \n 9 \n $": inline math
# does not span lines): no guessing from the rest of the text.
_UNREAD_RE = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])|answer\W{0,3}(?:\$|\\[(\[])", re.I)
_ANSWER_RE = re.compile(r"answer", re.I)
_FINAL_ANSWER_RE = re.compile(r"final answer", re.I)
# Chat-template markers a model may write after its answer.
_END_MARKERS_RE = re.compile(r"(?:<\|[a-z_]+\|>\s*\w*\s*|</s>\s*)+$")
# A finished text ends a sentence, a math span, or a number (with a short unit: 5 cm, 9€).
_FINISHED_RE = re.compile(r"(?:[.!?)\]}%$]|\\[)\]]|\d(?:\s?[A-Za-z]{1,3}|[^\s\d]{1,2})?[²³]?)$")


@dataclass(frozen=True)
class Answer:
    """A final answer: its parts as written (one per box of a group of boxes, else one),
    and math_verify's values when it was read from free text (else parsed on use)."""

    parts: tuple[str, ...]
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class _Box:
    start: int
    end: int
    content: str


def _boxes(text: str, open_ended: bool = False) -> list[_Box]:
    """Complete ``\\boxed{...}`` (and ``\\boxed x``) in text, outermost, in order; with
    `open_ended`, a last ``\\boxed{`` that is never closed runs to the end of the text."""
    found: list[_Box] = []
    for match in _BOX_RE.finditer(text):
        if found and match.start() < found[-1].end:
            continue  # inside the previous box
        start = match.end()
        while start < len(text) and text[start].isspace():
            start += 1
        if text[start : start + 1] != "{":
            if start > match.end() and start < len(text):  # \boxed 5
                word = re.split(r"[\s$]", text[start : start + 200], maxsplit=1)[0]
                found.append(_Box(match.start(), start + len(word), word.rstrip(".,")))
            continue
        end = _closing_brace(text, start)
        if end is not None:
            found.append(_Box(match.start(), end + 1, text[start + 1 : end].strip()))
        elif open_ended:
            content = text[start + 1 :].strip().rstrip("$").strip()
            found.append(_Box(match.start(), len(text), content))
    return found


def _closing_brace(text: str, start: int) -> int | None:
    """Index of the ``}`` that closes the ``{`` at start (escaped braces skipped)."""
    depth = 0
    for token in _BRACE_RE.finditer(text, start):
        if token[0] == "{":
            depth += 1
        elif token[0] == "}":
            depth -= 1
            if depth == 0:
                return token.start()
    return None


def _joins(between: str, gold: bool = False) -> bool:
    """Whether the text between two boxes joins them into one answer: only separators, or
    a few words with "and"/"or" (no numbers, no formula: a box, some working, a box is a
    result and its correction). In a gold, anything without a word joins too."""
    rest = " ".join(_LABEL_RE.sub(" ", _JOIN_NOISE_RE.sub(" ", between)).split())
    if _SEPARATORS_RE.fullmatch(rest) or (gold and not re.search(r"[A-Za-z]", rest)):
        return True
    words = set(re.findall(r"[A-Za-z]+", rest))
    return (
        len(rest) <= _MAX_JOIN_CHARS
        and bool({"and", "or"} & words)
        and bool(_JOIN_WORDS_RE.fullmatch(rest))
    )


def _final_group(text: str, boxes: list[_Box], gold: bool = False) -> tuple[str, ...]:
    """The last box and the boxes joined to it (``\\boxed{1} and \\boxed{2}``)."""
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if not _joins(text[box.end : group[0].start], gold):
            break
        group.insert(0, box)
    return tuple(box.content for box in group)


def _values(text: str, configs: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(parse_untimed(text, configs))


def _from_values(values: tuple[Any, ...]) -> Answer | None:
    if not values:
        return None
    strings = [v for v in values if isinstance(v, str)]
    return Answer(((strings or [str(values[0])])[0],), values)


def finished(text: str) -> bool:
    """Whether text ends as a written answer does, not cut off mid-sentence or mid-box."""
    text = _END_MARKERS_RE.sub("", text.rstrip()).rstrip()
    unclosed = text.count("{") > text.count("}")
    return bool(text) and not unclosed and bool(_FINISHED_RE.search(text))


def find_answer(text: str) -> Answer | None:
    """A completion's final answer (the thinking already stripped), or None.

    1. A final answer phrase ("The final answer is $...$") after the last box: a boxed
       intermediate result followed by an explicit final answer takes the latter.
    2. The last ``\\boxed{}``, with the boxes joined to it into one answer
       (``\\boxed{1} \\text{ and } \\boxed{2}``, ``\\boxed{(1, 2)}, \\boxed{(2, 1)}``).
    3. No box: an answer phrase.
    4. Neither, in a finished text (ending a sentence, a math span or a number): the
       text's last expression, as math_verify reads it. A text cut off mid-sentence or
       inside a box has no answer.
    """
    boxes = _boxes(text)
    if boxes:
        final = _FINAL_ANSWER_RE.search(text, boxes[-1].end)
        after = _from_values(_values(text[final.start() :], ANCHORED)) if final else None
        if after is not None:
            return after
        group = _final_group(text, boxes)
        return Answer(group) if any(group) else None
    anchored = _from_values(_values(text, ANCHORED))
    if anchored is not None or not finished(text) or _UNREAD_RE.search(text):
        return anchored
    return _from_values(_values(_END_MARKERS_RE.sub("", text.rstrip()), UNANCHORED))


def find_gold(gold: str) -> Answer:
    """A gold's answer: its last boxes (one never closed runs to the end), else the answer
    phrase of a solution without a box, else the gold itself without ``$``."""
    gold = gold.replace("\\\\boxed", "\\boxed").replace("\\\\text", "\\text")
    boxes = _boxes(gold, open_ended=True)
    if boxes:
        return Answer(_final_group(gold, boxes, gold=True))
    anchored = _from_values(_values(gold, ANCHORED)) if _ANSWER_RE.search(gold) else None
    if anchored is not None:
        return Answer(anchored.parts)
    return Answer((re.sub(r"(?<!\\)\$", "", gold).strip(),))
