"""Answers in several parts: the roots, pairs or values of one answer, listed with commas,
semicolons, "and", "or", ``\\quad`` or ``\\pm``, or boxed one by one, compared as the set
of their parts (each part of one side matched to its own part of the other)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = ["match_parts", "split_parts", "has_alternatives"]

_MAX_PARTS = 24
_WRAPPERS_RE = re.compile(r"\\left|\\right|\\displaystyle|(?<!\\)\$")
_TEXT_WORD_RE = re.compile(r"\\(?:text|textbf|textrm|mbox)\s*\{\s*(and|or)\s*\}")
_QUAD_RE = re.compile(r"\\q?quad")
_WORD_SEPARATOR_RE = re.compile(r"(?<![A-Za-z\\])(?:and|or)(?![a-z])")
_PM_RE = re.compile(r"\\(?:pm|mp)(?![A-Za-z])")
_LIST_RE = re.compile(r",|;|" + _WORD_SEPARATOR_RE.pattern)
_ALTERNATIVE_RE = re.compile(r";|" + _PM_RE.pattern + "|" + _WORD_SEPARATOR_RE.pattern)
_THOUSANDS_RE = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_OPEN, _CLOSE = "([{", ")]}"


def _normalize(answer: str) -> str:
    text = _WRAPPERS_RE.sub("", answer)
    text = _TEXT_WORD_RE.sub(r" \1 ", text)
    text = _QUAD_RE.sub(",", text).strip()
    for opening, closing in (("\\{", "\\}"), ("{", "}")):
        if text.startswith(opening) and text.endswith(closing) and _balanced(text, opening):
            text = text[len(opening) : -len(closing)].strip()
    return text


def _balanced(text: str, opening: str) -> bool:
    """Whether the braces opened at the start of text close only at its end."""
    depth = 0
    for i, char in enumerate(text[:-1]):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0 and i >= len(opening) - 1:
            return False
    return True


def has_alternatives(answer: str) -> bool:
    """Whether an answer lists parts with a word, a semicolon or ``\\pm``, not only with
    commas (``1 \\text{ or } 2``, ``\\pm 2021``, ``(1,2); (3,4)``)."""
    return len(_top_level_pieces(_normalize(answer), _ALTERNATIVE_RE)) > 1


def _top_level_pieces(text: str, separator: re.Pattern[str]) -> list[str]:
    """text cut at each match of separator outside brackets and braces."""
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        if char == "\\" and text[i + 1 : i + 2] in ("{", "}"):
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
        elif depth == 0 and (match := separator.match(text, i)):
            pieces.append(text[start:i])
            start = i = match.end()
            continue
        i += 1
    pieces.append(text[start:])
    return pieces


def _branches(part: str) -> list[str]:
    """``a \\pm b`` -> ``a+b``, ``a-b`` (one top-level ``\\pm`` or ``\\mp``); else part."""
    pieces = _top_level_pieces(part, _PM_RE)
    if len(pieces) != 2:
        return [part]
    head, tail = pieces[0].strip(), pieces[1].strip()
    return [f"{head}+{tail}" if head else tail, f"{head}-{tail}"]


def split_parts(answer: str) -> list[str]:
    """An answer's top-level parts: ``(1, 2), (2, 1)`` -> ``(1, 2)``, ``(2, 1)``;
    ``\\{1, 2, 3\\}`` -> 1, 2, 3; ``12 \\text{ and } 13`` -> 12, 13; ``1 \\pm \\sqrt{2}``
    -> ``1+\\sqrt{2}``, ``1-\\sqrt{2}``. A number with thousands separators is one part."""
    text = _normalize(answer)
    if _THOUSANDS_RE.fullmatch(text):
        return [text]
    pieces = _top_level_pieces(text, _LIST_RE)
    return [branch for piece in pieces if piece.strip() for branch in _branches(piece.strip())]


def match_parts(
    ours: Sequence[str], theirs: Sequence[str], same: Callable[[str, str], bool]
) -> bool:
    """Whether every part of ours has its own equal part of theirs and none is left over
    (`same(our_part, their_part)`; a perfect matching, so ``1, 1`` is not ``1, 2``)."""
    if len(ours) != len(theirs) or not ours or len(ours) > _MAX_PARTS:
        return False
    equal = [[j for j, their in enumerate(theirs) if same(our, their)] for our in ours]
    owner: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:
        for j in equal[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or assign(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return all(assign(i, set()) for i in range(len(ours)))
