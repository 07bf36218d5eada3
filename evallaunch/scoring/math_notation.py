"""Answer notation that math_verify drops while parsing: number bases (``52_8``), angle
units (``30^\\circ``, radians), units of measure (``\\text{ cm}^2``, ``\\$``) and
percentages. Each function reads the answer's LaTeX text, not math_verify's value.
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
    "has_percent",
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
_PERCENT_RE = re.compile(r"\\%|%|" + _TEXT.replace(r"([^{}]*?)", r"percent"))
# A unit is the trailing \text{...} of an answer that has something before it.
_UNIT_RE = re.compile(r"\S.*?" + _TEXT + r"\s*(?:\^\s*\{?\s*(\d)\s*\}?)?\s*\.?\s*$", re.S)
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


def _unit_word(word: str) -> str:
    word = word.lower().strip(". ")
    if word in _UNIT_WORDS:
        return _UNIT_WORDS[word]
    for suffix in ("es", "s"):
        if word.endswith(suffix) and word[: -len(suffix)] in _UNIT_WORDS:
            return _UNIT_WORDS[word[: -len(suffix)]]
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


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
