"""Multiple-choice answers: the letter a completion commits to."""

from __future__ import annotations

import re

from evallaunch.scoring.math_answers import MathScore, strip_think

# Most explicit forms first; within a form the last occurrence wins.
_PATTERNS = [
    re.compile(r"\\boxed\{\s*(?:\\text\{)?\s*\(?([A-J])\)?\s*\}?\s*\}"),
    re.compile(r"(?i)answer\s*(?:is|:)?\s*[:\-]?\s*\**\s*\(?\b([A-J])\b\)?"),
    re.compile(r"\(([A-J])\)"),
    re.compile(r"(?m)^\s*\**([A-J])\**\s*[\).:]?\s*$"),
]


def extract_choice(completion: str) -> str | None:
    """The chosen letter: `\\boxed{C}`, `Answer: C`, `the answer is (C)`, `(C)`, a lone `C`."""
    text = strip_think(completion)
    for pattern in _PATTERNS:
        found = pattern.findall(text)
        if found:
            return str(found[-1]).upper()
    return None


def score_choice(completion: str, gold: str) -> MathScore:
    """Correct when the extracted letter equals the gold letter."""
    letter = extract_choice(completion)
    return MathScore(
        extracted=letter, correct=letter is not None and letter == gold.strip().upper()
    )
