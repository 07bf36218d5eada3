"""Answer notation that math_verify drops or misreads while parsing: number bases
(``52_8``), angle units (``30^\\circ``, radians), units of measure (``\\text{ cm}^2``,
``\\$``), percentages (``28\\%``, ``28 percent``), decimal commas (``1000,99``) and
decimals printed to a float's precision. Each function reads the answer's LaTeX text, not
math_verify's value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AngleUnit",
    "BaseNumber",
    "angle_unit",
    "base_number",
    "clean_separators",
    "clock_time",
    "comma_decimal",
    "full_precision_decimal",
    "has_percent",
    "number_with_unit_word",
    "same_base_number",
    "strip_percent",
    "unit_of",
]

AngleUnit = Literal["degree", "radian"]

_TEXT = r"\\(?:text|textrm|textnormal|textit|mbox|mathrm|operatorname)\s*\{\s*([^{}]*?)\s*\}"
_SPACING_RE = re.compile(r"\\left|\\right|\\[,;:! ]|\\displaystyle|\$|\s")
_BASE_RE = re.compile(r"\(?([0-9A-Z]*[0-9][0-9A-Z]*)\)?_\{?\(?(\d+)\)?\}?")
_DIGITS_RE = re.compile(r"[0-9]+")
_DEGREE_RE = re.compile(
    r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree\b|" + _TEXT.replace(r"([^{}]*?)", r"degrees?")
)
_RADIAN_RE = re.compile(_TEXT.replace(r"([^{}]*?)", r"(?:rad|rads|radians?)"))
_PERCENT_WORD = r"(?:percent(?:age)?|pct)"
_PERCENT_RE = re.compile(
    r"\\%|%|"
    + _TEXT.replace(r"([^{}]*?)", _PERCENT_WORD)
    + r"|(?<![A-Za-z\\])"
    + _PERCENT_WORD
    + r"(?![A-Za-z])"
)
# A unit is the trailing \text{...} of an answer that has something before it.
_UNIT_RE = re.compile(r"\S.*?" + _TEXT + r"\s*(?:\^\s*\{?\s*(\d)\s*\}?)?\s*\.?\s*$", re.S)
_WORD_UNIT_RE = re.compile(r"\s*(-?\d[\d,]*(?:\.\d+)?)\s+([A-Za-z]{2,})\.?\s*")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")
_COMMA_DECIMAL_RE = re.compile(r"(-?)(\d+),(\d+)")
_DECIMAL_RE = re.compile(r"-?(\d*)\.(\d+)")
FULL_PRECISION_DIGITS = 15  # significant digits of a printed double
_THIN_SPACE_RE = re.compile(r"(?<=\d)(?:\\,|\\ |\\;|~)(?=\d{3}(?!\d))")
_UNIT_WORDS = {
    "dollar": "dollar",
    "cent": "cent",
    "inch": "in",
    "in": "in",
    "foot": "ft",
    "feet": "ft",
    "ft": "ft",
    "yard": "yd",
    "yd": "yd",
    "mile": "mi",
    "mi": "mi",
    "centimeter": "cm",
    "centimetre": "cm",
    "cm": "cm",
    "millimeter": "mm",
    "millimetre": "mm",
    "mm": "mm",
    "meter": "m",
    "metre": "m",
    "m": "m",
    "kilometer": "km",
    "kilometre": "km",
    "km": "km",
    "second": "s",
    "sec": "s",
    "s": "s",
    "minute": "min",
    "min": "min",
    "hour": "h",
    "hr": "h",
    "h": "h",
}
_NOT_UNITS = {"or", "and", "if", "for", "where", "when", "with", "odd", "even"}
_ANGLE_WORDS = {"degree", "rad", "radian"}


@dataclass(frozen=True)
class BaseNumber:
    """A numeral as written: its digits and, when subscripted (``52_8``), its base."""

    digits: str
    base: int | None

    def value(self) -> int | None:
        """The numeral's value (base 10 when no base is written); None for bad digits."""
        try:
            return int(self.digits, self.base or 10)
        except ValueError:
            return None


def _compact(text: str) -> str:
    return _SPACING_RE.sub("", text).rstrip(".")


def base_number(text: str) -> BaseNumber | None:
    """``52_8``, ``52_{8}``, ``(52)_8`` -> digits and base; plain digits ``52`` -> no base.

    Anything else (``x_1``, ``52_{1}``, ``3.5``) -> None.
    """
    compact = _compact(text)
    if match := _BASE_RE.fullmatch(compact):
        base = int(match[2])
        return BaseNumber(match[1], base) if 2 <= base <= 36 else None
    return BaseNumber(compact, None) if _DIGITS_RE.fullmatch(compact) else None


def same_base_number(gold: BaseNumber, pred: BaseNumber) -> bool:
    """Equal numerals: the same digits when either base is left out (the question fixes
    the base), otherwise the same value (``52_8`` is ``42_{10}``, not ``52_9``)."""
    if gold.base is None and pred.base is None:
        return gold.digits.lstrip("0") == pred.digits.lstrip("0")
    if gold.base is None or pred.base is None:
        with_base, plain = (gold, pred) if pred.base is None else (pred, gold)
        if with_base.digits.lstrip("0") == plain.digits.lstrip("0"):
            return True
        return gold.base is None and with_base.value() == plain.value()
    value = gold.value()
    return value is not None and value == pred.value()


def angle_unit(text: str) -> AngleUnit | None:
    """The angle unit an answer states: degrees (``^\\circ``, ``°``, ``\\text{ degrees}``),
    radians (``\\text{ rad}``), or None when it states none."""
    if _DEGREE_RE.search(text):
        return "degree"
    return "radian" if _RADIAN_RE.search(text) else None


def has_percent(text: str) -> bool:
    """Whether the answer is written as a percentage (``\\%``, ``\\text{ percent}``)."""
    return bool(_PERCENT_RE.search(text))


def strip_percent(text: str) -> str:
    """The answer without its percent sign: ``25\\%`` -> ``25``."""
    return _PERCENT_RE.sub("", text).strip()


def clean_separators(text: str) -> str:
    """Thin-space thousands separators removed (``10\\,080`` -> ``10080``); math_verify
    reads ``\\,`` between digits as a product."""
    return _THIN_SPACE_RE.sub("", text.replace("°", "^{\\circ}"))


def clock_time(text: str) -> tuple[int, int] | None:
    """``9:30`` -> (9, 30): hours and two-digit minutes of a time of day; None for anything
    else (``7:32`` is a time too; ``14:64`` and ``3:5`` are ratios)."""
    match = _CLOCK_RE.fullmatch(_compact(text))
    if match is None or int(match[1]) > 24 or int(match[2]) > 59:
        return None
    return int(match[1]), int(match[2])


def comma_decimal(text: str) -> str | None:
    """``1000,99`` -> ``1000.99``: a number with one comma that thousands separators cannot
    have written (not three digits after it, or a first group of 0 or of four digits or
    more); None for anything else (``1,000``, ``1, 22``, ``x,y``)."""
    match = _COMMA_DECIMAL_RE.fullmatch(text.strip().strip("$").strip())
    if match is None:
        return None
    sign, whole, fraction = match.groups()
    if len(fraction) == 3 and whole != "0" and len(whole) <= 3:
        return None
    return f"{sign}{whole}.{fraction}"


def full_precision_decimal(text: str) -> tuple[str, int] | None:
    """A decimal written to a float's precision (15 or more significant digits, as a
    program prints ``1/12``: ``0.0833333333333333``) -> (the decimal, its places); None
    for shorter decimals and anything else."""
    compact = _compact(text)
    match = _DECIMAL_RE.fullmatch(compact)
    if match is None:
        return None
    significant = (match[1] + match[2]).lstrip("0")
    return (compact, len(match[2])) if len(significant) >= FULL_PRECISION_DIGITS else None


def _unit_word(word: str) -> str:
    word = word.lower().strip(". ")
    if word in _UNIT_WORDS:
        return _UNIT_WORDS[word]
    for suffix in ("es", "s"):
        if word.endswith(suffix) and word[: -len(suffix)] in _UNIT_WORDS:
            return _UNIT_WORDS[word[: -len(suffix)]]
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def number_with_unit_word(text: str) -> tuple[str, str] | None:
    """``125 miles`` -> (``125``, ``mi``): a number and its unit written as a plain word
    (math_verify reads the word as a product of variables); None for anything else."""
    match = _WORD_UNIT_RE.fullmatch(text)
    if match is None or match[2].lower() == "in":
        return None
    unit = _unit_word(match[2])
    return (match[1], unit) if unit in _UNIT_WORDS.values() else None


def unit_of(text: str) -> str | None:
    """The unit of measure an answer ends with, in one spelling per unit:
    ``864 \\mbox{ inches}^2`` and ``864 \\text{ square inches}`` -> ``in^2``,
    ``\\$18.90`` and ``18.90 \\text{ dollars}`` -> ``dollar``. Angle units, words
    that are not units (``\\text{ or }``) and answers without one -> None."""
    stripped = text.strip()
    match = _UNIT_RE.fullmatch(stripped)
    if match is None or not re.fullmatch(r"[A-Za-z][A-Za-z .]*", match[1] or ""):
        return "dollar" if stripped.startswith("\\$") else None
    words = match[1].lower().split()
    power = match[2] if match[2] not in (None, "1") else ""
    if words and words[0] in ("square", "sq", "sq.", "cubic"):
        power = power or ("3" if words[0] == "cubic" else "2")
        words = words[1:]
    if words and words[-1] in ("squared", "cubed"):
        power = power or ("3" if words[-1] == "cubed" else "2")
        words = words[:-1]
    if not words or words[0] in _NOT_UNITS or len(words) > 2:
        return None
    unit = " ".join(_unit_word(word) for word in words)
    if unit in _ANGLE_WORDS or unit.startswith("degree"):
        return None
    return unit + (f"^{power}" if power else "")
