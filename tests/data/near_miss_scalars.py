"""Variants of scalar gold answers: integers, fractions, decimals, bases, angles, words,
money, units, complex numbers (for make_math_near_miss.py)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from fractions import Fraction

from near_miss_latex import (
    Gold,
    Variant,
    braces,
    bump_number,
    decimal_of,
    fixed,
    frac,
    swap_digits,
    unit_in,
)


def integer_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    n = int(gold.answer)
    yield str(n + rng.choice((1, -1))), False, "integer_neighbour"
    swapped = swap_digits(str(abs(n)), rng)
    if swapped is not None:
        yield ("-" if n < 0 else "") + swapped, False, "integer_digits"
    elif n != 0:
        yield str(-n), False, "sign"
    else:
        yield "10", False, "integer_scale"
    if gold.integer_answer:
        if n < 100:
            yield str(n).zfill(3), True, "leading_zeros"
        elif gold.answer != str(n):
            yield str(n), True, "leading_zeros"
        yield f"m + n = {n}" if rng.random() < 0.5 else f"N = {n}", True, "x_prefix"
        yield str(n * 10), False, "integer_scale"
        return
    if abs(n) >= 1000:
        sep = rng.choice(("{,}", ",", "\\,", ",\\!"))
        yield f"{n:,}".replace(",", sep), True, "thousands_separator"
    if "percent" in gold.problem.lower():
        yield f"{n}\\%", True, "percent_form"
        yield f"{n + 1}\\%", False, "percent_value"
    unit = unit_in(gold.problem)
    if unit is not None:
        yield f"{n} \\text{{ {unit}}}", True, "text_unit"
    elif rng.random() < 0.5:
        yield f"x = {n}", True, "x_prefix"
    else:
        yield rng.choice((f"{{{n}}}", f"\\displaystyle {n}", f"\\mathbf{{{n}}}")), True, "spacing"


def fraction_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    m = re.fullmatch(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", braces(gold.answer).strip())
    assert m is not None
    sign, a, b = m[1], int(m[2]), int(m[3])
    value = Fraction(int(sign + str(a)), b)
    yield braces(gold.answer).replace("\\dfrac", "\\frac"), True, "dfrac"
    yield frac(value, "dfrac" if "dfrac" not in gold.answer else "tfrac"), True, "dfrac"
    yield f"{sign}{a}/{b}", True, "fraction_form"
    yield f"{sign}\\frac{{{2 * a}}}{{{2 * b}}}", True, "unreduced_fraction"
    decimal = decimal_of(value)
    if decimal is not None:
        yield decimal, True, "exact_decimal"
        places = len(decimal.split(".")[1]) if "." in decimal else 0
        step = Fraction(1, 10**places) * (-1 if value < 0 else 1)
        yield fixed(value + step, places), False, "decimal_digit"
    else:
        yield f"{float(value):.6g}", False, "rounded_decimal"
    if abs(value) > 1 and value.denominator > 1:
        whole = abs(value.numerator) // value.denominator
        rest = abs(value) - whole
        yield f"{sign}{whole}\\frac{{{rest.numerator}}}{{{rest.denominator}}}", True, "mixed_number"
    yield f"{sign}\\frac{{{a + 1}}}{{{b}}}", False, "fraction_neighbour"
    yield f"{sign}\\frac{{{a}}}{{{b + rng.choice((1, 2))}}}", False, "fraction_neighbour"
    if a != b and a != 0:
        yield frac(Fraction(int(sign + str(b)), a)), False, "fraction_reciprocal"
    yield frac(-value), False, "sign"


def decimal_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    text = gold.answer.strip()
    value = Fraction(text)
    places = len(text.split(".")[1])
    yield ("0" + text if text.startswith(".") else text + "0"), True, "exact_decimal"
    yield frac(value), True, "fraction_form"
    if value < Fraction(1, 1000):
        mantissa = f"{float(value) * 1e5:g}"
        yield f"{mantissa} \\times 10^{{-5}}", True, "scientific"
    step = Fraction(1, 10**places)
    yield fixed(value + step * rng.choice((1, -1)), places), False, "decimal_digit"
    yield fixed(value * 10, max(places - 1, 0)), False, "decimal_shift"
    yield f"-{text}", False, "sign"


def mixed_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    m = re.fullmatch(r"(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}", braces(gold.answer).strip())
    assert m is not None
    whole, a, b = int(m[1]), int(m[2]), int(m[3])
    value = whole + Fraction(a, b)
    yield frac(value), True, "mixed_number"
    if (decimal := decimal_of(value)) is not None:
        yield decimal, True, "exact_decimal"
    yield f"{whole} \\tfrac{{{a}}}{{{b}}}", True, "dfrac"
    yield f"{whole}\\frac{{{a - 1 if a > 1 else a + 1}}}{{{b}}}", False, "fraction_neighbour"
    yield f"\\frac{{{a}}}{{{b}}}", False, "mixed_number_whole"
    yield f"{whole + 1}\\frac{{{a}}}{{{b}}}", False, "mixed_number_whole"


def base_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    m = re.fullmatch(r"(\d+)_\{?(\d+)\}?", gold.answer.strip())
    assert m is not None
    digits, base = m[1], int(m[2])
    yield (
        f"{digits}_{{{base}}}" if "{" not in gold.answer else f"{digits}_{base}",
        True,
        "base_form",
    )
    yield digits, True, "base_form"
    yield f"({digits})_{{{base}}}", True, "base_form"
    yield f"{digits}_{{{base + 1}}}", False, "base_subscript"
    if base > 2:
        yield f"{digits}_{{{base - 1}}}", False, "base_subscript"
    last = int(digits[-1])
    yield f"{digits[:-1]}{(last + 1) % base}_{{{base}}}", False, "base_digits"
    if (swapped := swap_digits(digits, rng)) is not None:
        yield f"{swapped}_{base}", False, "base_digits"
    value = int(digits, base)
    yield str(value), False, "base_value"  # the decimal value, without its base


def degree_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    m = re.fullmatch(r"(\d+)\^\\circ", gold.answer.strip())
    if m is None:  # \frac{270}7\text{ degrees}
        number = braces(gold.answer.split("\\text")[0]).strip()
        yield f"{number}^\\circ", True, "degree_mark"
        yield number, True, "degree_mark"
        yield f"{bump_number(number, 0)}^\\circ", False, "angle_value"
        yield f"{number} \\text{{ radians}}", False, "degrees_radians"
        return
    n = int(m[1])
    yield str(n), True, "degree_mark"
    yield rng.choice((f"{n}^{{\\circ}}", f"{n}°", f"{n} \\text{{ degrees}}")), True, "degree_mark"
    radians = Fraction(n, 180)
    pi = "\\pi" if radians.numerator == 1 else f"{radians.numerator}\\pi"
    as_radians = pi if radians.denominator == 1 else f"\\frac{{{pi}}}{{{radians.denominator}}}"
    yield as_radians, True, "radian_degree"
    yield f"{as_radians}^\\circ", False, "degrees_radians"
    yield f"{n} \\text{{ radians}}", False, "degrees_radians"
    yield f"{n + rng.choice((1, 5, 10))}^\\circ", False, "angle_value"
    if n != 90:
        yield f"{180 - n}^\\circ", False, "angle_value"


def radian_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    text = gold.answer.strip()
    m = re.fullmatch(r"(-?)\\frac\{\\pi\}\{(\d+)\}|(-?)\\pi", text)
    assert m is not None
    sign = m[1] or m[3] or ""
    degrees = 180 // int(m[2]) if m[2] else 180
    yield f"{sign}{degrees}^\\circ", True, "radian_degree"
    yield f"{sign}{degrees}", False, "degrees_radians"  # degrees without the mark
    yield f"{text}^\\circ", False, "degrees_radians"
    yield (
        text.replace("\\pi", "\\pi \\cdot 2")
        if not m[2]
        else text.replace(f"{{{m[2]}}}", f"{{{int(m[2]) + 1}}}"),
        False,
        "pi_coefficient",
    )


def text_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    word = re.fullmatch(r"\\text\{(.*)\}", gold.answer.strip())[1]  # type: ignore[index]
    others = {
        "east": ["west", "north", "south"],
        "even": ["odd", "neither"],
        "ellipse": ["hyperbola", "parabola", "circle"],
        "Evelyn": ["Briana", "Carla"],
        "Navin": ["Luka", "Ian"],
    }
    if (letter := re.fullmatch(r"\((\w)\)", word)) is not None:
        yield letter[1], True, "text_form"
        yield f"\\textbf{{({letter[1]})}}", True, "text_form"
        yield word, True, "text_form"
        for other in "ABCDE".replace(letter[1], "")[:2]:
            yield f"\\text{{({other})}}", False, "text_option"
        return
    yield word, True, "text_form"
    yield f"\\textbf{{{word}}}", True, "text_form"
    yield f"\\text{{{word[0].swapcase() + word[1:]}}}", True, "text_case"
    for other in others[word]:
        yield f"\\text{{{other}}}", False, "text_option"


def money_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    number = gold.answer.strip()[2:].replace(",\\!", ",")
    plain = number.replace(",", "")
    yield plain, True, "unit_form"
    yield f"\\${plain}", True, "unit_form"
    yield f"{number.replace(',', '{,}')} \\text{{ dollars}}", True, "text_unit"
    if "." in plain:
        yield plain.rstrip("0"), True, "exact_decimal"
        yield f"\\${fixed(Fraction(plain) + Fraction(1, 10), 2)}", False, "decimal_digit"
    else:
        yield f"\\${int(plain) + 1}", False, "integer_neighbour"
    if (swapped := swap_digits(plain.replace(".", ""), rng)) is not None and "." not in plain:
        yield f"\\${int(swapped):,}".replace(",", ",\\!"), False, "separator_digits"
    yield f"{plain} \\text{{ cents}}", False, "unit_change"


def thousands_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    digits = re.sub(r"[^\d]", "", gold.answer)
    n = int(digits)
    yield digits, True, "thousands_separator"
    yield f"{n:,}", True, "thousands_separator"
    yield f"{n:,}".replace(",", "{,}"), True, "thousands_separator"
    yield f"{n:,}".replace(",", "\\,"), True, "thousands_separator"
    swapped = swap_digits(digits[-3:], rng)
    if swapped is not None:
        yield f"{int(digits[:-3] + swapped):,}".replace(",", ",\\!"), False, "separator_digits"
    yield f"{n + 1:,}".replace(",", ",\\!"), False, "integer_neighbour"
    yield f"{n // 1000:,}".replace(",", ",\\!"), False, "separator_digits"


def unit_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    m = re.fullmatch(r"([\d.]+)\s*\\(?:mbox|text)\{\s*([a-z]+)\}(\^2)?", gold.answer.strip())
    assert m is not None
    number, unit, square = m[1], m[2], m[3] or ""
    yield number, True, "unit_form"
    if square:
        yield f"{number} \\text{{ square {unit}}}", True, "text_unit"
        yield f"{number} \\text{{ {unit}}}", False, "unit_change"
    else:
        yield f"{number}\\text{{{unit}}}", True, "text_unit"
        yield f"{number} \\text{{ dollars}}", False, "unit_change"
    bumped = bump_number(number, 0)
    yield f"{bumped} \\text{{ {unit}}}{square}", False, "integer_neighbour"


def complex_variants(gold: Gold, rng: random.Random) -> Iterator[Variant]:
    m = re.fullmatch(r"(-?\d+)\s*([+-])\s*(\d*)i", gold.answer.strip())
    assert m is not None
    real, sign, imag = m[1], m[2], m[3] or "1"
    other = "-" if sign == "+" else "+"
    yield (
        f"{sign if sign == '-' else ''}{imag}i {'+' if real[0] != '-' else '-'} {real.lstrip('-')}",
        True,
        "term_order",
    )
    yield f"{real}{sign}{imag}i", True, "spacing"
    yield f"{real} {other} {imag}i", False, "complex_conjugate"
    yield f"{imag} {sign} {real.lstrip('-')}i", False, "complex_swap"
    yield f"{int(real) + 1} {sign} {imag}i", False, "complex_part"
