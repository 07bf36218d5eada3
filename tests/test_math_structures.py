"""Tests of the comparison helpers behind score_math: sets of reals, ordered pairs, exact
decimals (math_structures) and notation read from the LaTeX text (math_notation)."""

from __future__ import annotations

from typing import Any

import pytest
import sympy

from evallaunch.scoring.math_answers import _parse_answer
from evallaunch.scoring.math_notation import (
    BaseNumber,
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
    same_number,
    same_ordered_pair,
    same_real_set,
)

x, y = sympy.symbols("x y")


def value(latex: str) -> Any:
    """math_verify's first parsed value of an answer, as score_math sees it."""
    return next(v for v in _parse_answer(latex) if not isinstance(v, str))


# --- math_structures ---------------------------------------------------------------


def test_exact_turns_decimals_into_the_fractions_they_spell() -> None:
    assert exact(value("0.0000672")) == sympy.Rational(672, 10**7)
    assert exact(value("0.0000672")) != exact(value("0.0000673"))
    assert exact(value("(0.6, \\frac{8}{3}]")) == sympy.Interval.Lopen(
        sympy.Rational(3, 5), sympy.Rational(8, 3)
    )
    matrix = exact(value("\\begin{pmatrix} 0.2 \\\\ -3.6 \\end{pmatrix}"))
    assert list(matrix) == [sympy.Rational(1, 5), sympy.Rational(-18, 5)]
    assert exact("text") == "text"
    assert exact(sympy.Integer(3)) == 3


def test_same_number_is_exact() -> None:
    assert same_number(sympy.sqrt(12), 2 * sympy.sqrt(3))
    assert same_number(sympy.Rational(1, 2), exact(value("0.5")))
    assert not same_number(sympy.Rational(1, 3), exact(value("0.333333")))
    assert not same_number(sympy.sqrt(51), exact(value("7.1414284")))


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        ("(3,4]", True),
        ("x \\in [-2,7]", True),
        ("-2 \\le x \\le 7", True),
        ("x > 2", True),
        ("x \\neq 9", True),
        ("x < 2 \\text{ or } x > 3", True),
        ("(0,9) \\cup (9,36)", True),
        ("x = 5", False),
        ("x = 1, x = -2", False),
        ("y = 2x + 3", False),
        ("\\{1, 2\\}", False),
        ("5", False),
        ("(6,31,-1)", False),
    ],
)
def test_is_set_like(latex: str, expected: bool) -> None:
    assert is_set_like(value(latex)) is expected


def named(latex: str) -> tuple[str | None, sympy.Set] | None:
    found = real_set(value(latex))
    return None if found is None else (found[0] and found[0].name, found[1])


def test_real_set_of_each_form() -> None:
    closed = sympy.Interval(-2, 7)
    assert named("[-2,7]") == (None, closed)
    assert named("x \\in [-2,7]") == ("x", closed)
    assert named("-2 \\le x \\le 7") == ("x", closed)
    assert named("x \\le 0") == ("x", sympy.Interval(-sympy.oo, 0))
    assert named("5") == (None, sympy.FiniteSet(5))
    assert named("\\{1, 2\\}") == (None, sympy.FiniteSet(1, 2))
    assert named("(6,31,-1)") is None
    assert named("y = 2x + 3") is None


def test_lists_of_relations_are_unions_unless_they_say_and() -> None:
    either = real_set(value("x < 2 \\text{ or } x > 3"))
    both = real_set(value("x < 2 \\text{ and } x > 3"), conjunction=True)
    assert either is not None and both is not None
    assert same_real_set(either, (None, sympy.Reals - sympy.Interval(2, 3)))
    assert same_real_set(both, (None, sympy.EmptySet))
    punctured = real_set(value("0 < x < 36, x \\neq 9"))
    assert punctured is not None
    assert same_real_set(punctured, (None, sympy.Interval.open(0, 36) - sympy.FiniteSet(9)))


def test_same_real_set() -> None:
    gold = (None, sympy.Union(sympy.Interval.open(0, 9), sympy.Interval.open(9, 36)))
    assert same_real_set(gold, (None, sympy.Interval.open(0, 36) - sympy.FiniteSet(9)))
    assert not same_real_set(gold, (None, sympy.Interval.open(0, 36)))
    assert not same_real_set(gold, (None, sympy.Interval(0, 36) - sympy.FiniteSet(9)))
    root3 = sympy.sqrt(3)
    assert same_real_set(
        (None, sympy.Interval.open(-root3, root3)), (x, sympy.Interval.open(-root3, 3 / root3))
    )
    assert not same_real_set((x, sympy.FiniteSet(5)), (y, sympy.FiniteSet(5)))
    assert same_real_set((x, sympy.FiniteSet(5)), (None, sympy.FiniteSet(5)))


def test_same_ordered_pair() -> None:
    point = value("(-2,1)")  # parsed as an open interval
    assert same_ordered_pair(point, value("-2, 1")) is True
    assert same_ordered_pair(point, value("(1,-2)")) is False
    assert same_ordered_pair(value("(15,-29)"), value("(15,29)")) is False
    assert same_ordered_pair(point, value("(-2,1)")) is None  # two intervals: compare as sets
    assert same_ordered_pair(value("1,-2"), value("(-2,1)")) is True  # a list: any order
    assert same_ordered_pair(value("(6,31,-1)"), value("(6,31)")) is None


# --- math_notation -----------------------------------------------------------------


def test_base_number() -> None:
    assert base_number("52_8") == BaseNumber("52", 8)
    assert base_number("52_{8}") == BaseNumber("52", 8)
    assert base_number("(2516)_{8}") == BaseNumber("2516", 8)
    assert base_number(" 52 ") == BaseNumber("52", None)
    assert base_number("x_1") is None
    assert base_number("52_{1}") is None
    assert base_number("3.5") is None
    assert BaseNumber("52", 8).value() == 42
    assert BaseNumber("58", 8).value() is None


@pytest.mark.parametrize(
    ("gold", "pred", "same"),
    [
        ("52_8", "52_{8}", True),
        ("52_8", "52", True),
        ("52_8", "42_{10}", True),
        ("52_8", "52_9", False),
        ("52_8", "53_8", False),
        ("52_8", "42", False),
        ("52_8", "58_8", False),
        ("42", "52_8", True),
    ],
)
def test_same_base_number(gold: str, pred: str, same: bool) -> None:
    ours, theirs = base_number(gold), base_number(pred)
    assert ours is not None and theirs is not None
    assert same_base_number(ours, theirs) is same


@pytest.mark.parametrize(
    ("latex", "unit"),
    [
        ("90^\\circ", "degree"),
        ("90^{\\circ}", "degree"),
        ("90°", "degree"),
        ("\\frac{270}7\\text{ degrees}", "degree"),
        ("90 \\text{ radians}", "radian"),
        ("\\frac{\\pi}{2}", None),
        ("90", None),
    ],
)
def test_angle_unit(latex: str, unit: str | None) -> None:
    assert angle_unit(latex) == unit


@pytest.mark.parametrize(
    ("latex", "unit"),
    [
        ("864 \\mbox{ inches}^2", "in^2"),
        ("864 \\text{ square inches}", "in^2"),
        ("864 \\text{ in}^2", "in^2"),
        ("864 \\text{ inches}", "in"),
        ("864 \\text{ inches squared}", "in^2"),
        ("8 \\text{ cubic feet}", "ft^3"),
        ("15\\mbox{ cm}^2", "cm^2"),
        ("5.4 \\text{ cents}", "cent"),
        ("\\$18.90", "dollar"),
        ("18.90 \\text{ dollars}", "dollar"),
        ("\\frac{270}7\\text{ degrees}", None),
        ("\\text{Evelyn}", None),
        ("x < 2 \\text{ or } x > 3", None),
        ("42", None),
    ],
)
def test_unit_of(latex: str, unit: str | None) -> None:
    assert unit_of(latex) == unit


def test_percent_and_separators() -> None:
    assert has_percent("25\\%") and has_percent("25 \\text{ percent}")
    assert not has_percent("25")
    assert strip_percent("25\\%") == "25"
    assert clean_separators("10\\,080") == "10080"
    assert clean_separators("11\\,111\\,111\\,100") == "11111111100"
    assert clean_separators("3\\,x") == "3\\,x"  # a thin space, not a separator
    assert clean_separators("90°") == "90^{\\circ}"
