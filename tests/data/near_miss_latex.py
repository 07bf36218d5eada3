"""LaTeX string helpers of the near-miss corpus generator (make_math_near_miss.py)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction

Variant = tuple[str, bool, str]  # (answer, equivalent, kind)


@dataclass
class Gold:
    """One benchmark's gold answer, with the problem it answers."""

    source: str  # math_500 or aime24
    problem_id: str
    answer: str
    problem: str

    @property
    def integer_answer(self) -> bool:
        return self.source == "aime24"


def braces(text: str) -> str:
    """``\\frac43`` -> ``\\frac{4}{3}``, ``\\sqrt2`` -> ``\\sqrt{2}`` (same value)."""
    text = re.sub(r"\\([dt]?frac)\s*(\d)\s*(\d)(?!\d)", r"\\\1{\2}{\3}", text)
    text = re.sub(r"\\([dt]?frac)\s*(\d)\s*\{", r"\\\1{\2}{", text)
    text = re.sub(r"\\([dt]?frac)\s*\{([^{}]*)\}\s*(\d)", r"\\\1{\2}{\3}", text)
    return re.sub(r"\\sqrt\s*(\d)", r"\\sqrt{\1}", text)


def bump_number(text: str, which: int = -1, delta: int = 1) -> str | None:
    """text with one integer literal (the last by default) changed by delta."""
    spots = list(re.finditer(r"\d+", text))
    if not spots:
        return None
    spot = spots[which]
    value = int(spot[0]) + delta
    if value < 0:
        return None
    return text[: spot.start()] + str(value) + text[spot.end() :]


def swap_digits(digits: str, rng: random.Random) -> str | None:
    spots = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1]]
    if not spots:
        return None
    i = rng.choice(spots)
    swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    return None if swapped.startswith("0") else swapped


def split_top(text: str, separator: str = ",") -> list[str]:
    """Split at separators outside braces, brackets and parentheses."""
    parts, depth, current = [], 0, ""
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("\\{", i) or text.startswith("\\}", i):
            depth += 1 if text[i + 1] == "{" else -1
            current += text[i : i + 2]
            i += 2
            continue
        depth += char in "{([" and 1 or 0
        depth -= char in "})]" and 1 or 0
        if char == separator and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    parts.append(current.strip())
    return parts


def terms(text: str) -> list[str]:
    """Top-level signed terms of a sum: ``x^3+3x-6`` -> ``['x^3', '+3x', '-6']``."""
    out, depth, current = [], 0, ""
    for i, char in enumerate(text):
        depth += char in "{([" and 1 or 0
        depth -= char in "})]" and 1 or 0
        if char in "+-" and depth == 0 and current.strip() and text[i - 1] not in "^_{":
            out.append(current.strip())
            current = ""
        current += char
    out.append(current.strip())
    return out


def reorder_sum(text: str) -> str | None:
    parts = terms(text)
    if len(parts) < 2:
        return None
    parts = parts[1:] + parts[:1]
    joined = " ".join(p if p[0] in "+-" else "+ " + p for p in parts).strip()
    joined = re.sub(r"([+-])\s*", r"\1 ", joined)
    return joined[2:] if joined.startswith("+ ") else joined


def decimal_of(value: Fraction) -> str | None:
    """Exact decimal of a fraction, if it terminates."""
    den = value.denominator
    for prime in (2, 5):
        while den % prime == 0:
            den //= prime
    if den != 1:
        return None
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
    return fixed(value, places)


def fixed(value: Fraction, places: int) -> str:
    """value written with exactly `places` decimals (it must have no more)."""
    scaled = value * 10**places
    assert scaled.denominator == 1, (value, places)
    digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
    body = f"{digits[:-places]}.{digits[-places:]}" if places else digits
    return ("-" if value < 0 else "") + body


def frac(value: Fraction, command: str = "frac") -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value.denominator == 1:
        return f"{sign}{value.numerator}"
    return f"{sign}\\{command}{{{value.numerator}}}{{{value.denominator}}}"


def spaced(text: str) -> str:
    out = re.sub(r"\s*,\s*", ", ", text)
    out = re.sub(r"(?<=[\w}])\s*([+=<>]|\\le|\\ge|\\cup)\s*", r" \1 ", out)
    return re.sub(r" +", " ", out).strip()


def tight(text: str) -> str:
    return re.sub(r"(?<![a-zA-Z])\s+|\s+(?![a-zA-Z])", "", text)


UNIT_WORDS = ["inches", "feet", "cm", "meters", "units", "dollars", "minutes", "hours", "miles"]


def unit_in(problem: str) -> str | None:
    words = re.findall(r"[a-z]+", problem.lower())
    return next((u for u in UNIT_WORDS if u in words), None)
