"""Where score_math finds an answer (math_extraction), answers in several parts (math_parts),
and the notation and equation rules added for Math-Verify's own test cases
(docs/math-scoring.md): each rule with the near miss it must still reject."""

from __future__ import annotations

from typing import Any

import pytest
import sympy

from evallaunch.scoring import score_math
from evallaunch.scoring.math_answers import _parse_answer
from evallaunch.scoring.math_equations import same_equation, same_function_values, unlabelled
from evallaunch.scoring.math_extraction import find_answer, find_gold, finished
from evallaunch.scoring.math_notation import (
    clock_time,
    comma_decimal,
    full_precision_decimal,
    has_percent,
    number_with_unit_word,
    strip_percent,
)
from evallaunch.scoring.math_parts import has_alternatives, match_parts, split_parts


def value(latex: str) -> Any:
    return next(v for v in _parse_answer(latex) if not isinstance(v, str))


def parts(completion: str) -> tuple[str, ...] | None:
    found = find_answer(completion)
    return None if found is None else found.parts


# --- where the answer is ------------------------------------------------------------


def test_boxes_joined_by_and_or_commas_are_one_answer() -> None:
    assert parts("so $\\boxed{1}$ and $\\boxed{2}$.") == ("1", "2")
    joined = "\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}"
    assert parts(joined) == ("(3, 3)", "(1, 1)")
    labelled = "\\( y_1 = \\boxed{2x} \\) and \\( y_2 = \\boxed{3x} \\)"
    assert parts(labelled) == ("2x", "3x")
    # a change of mind is not a list: the last box alone
    assert parts("First \\boxed{1}, on reflection \\boxed{2}.") == ("2",)
    assert parts("\\boxed{1}. Then we see that \\boxed{2}") == ("2",)
    assert parts("\\boxed{3} \\[ 3 + 4 = 7 \\] \\boxed{7}") == ("7",)  # working between
    assert parts("\\boxed{3} and then $3+4=7$ and \\boxed{7}") == ("7",)


def test_a_final_answer_phrase_after_the_last_box_wins() -> None:
    text = "so $\\boxed{255}$ is the interest. Final Answer: The final answer is $10,455$."
    assert parts(text) == ("10,455",)
    checked = "$17^{-1} \\equiv \\boxed{44}$. We may check our answer: $17 \\cdot 44 = 748$."
    assert parts(checked) == ("44",)


def test_a_finished_text_without_box_or_answer_phrase_gives_its_last_expression() -> None:
    assert score_math("Therefore $x \\geq 5$ is the solution.", "x \\ge 5").correct
    assert score_math("the number is 10 which is 1,000.99€", "1000.99").correct
    assert not score_math("Therefore $x < 5$ is the solution.", "x > 5").correct
    assert finished("so it is 12.") and finished("it is $x$") and finished("that is 5 cm")
    assert not finished("Let me compute 3 + 4 = 7, and then multiply by")
    assert not finished("so \\boxed{12")
    # an answer phrase math_verify cannot read (inline math across lines): no guess
    assert score_math("Answer $ \n 9 \n $", "9").extracted is None


def test_gold_answers_in_several_boxes_or_in_a_solution() -> None:
    assert find_gold("$\\boxed{1}\\boxed{2}$").parts == ("1", "2")
    assert find_gold("\\(\\boxed{1}\\) and \\(\\boxed{-2}\\).").parts == ("1", "-2")
    assert find_gold("\\\\boxed{W(n) = 1").parts == ("W(n) = 1",)  # never closed: to the end
    solution = "So the loss is $28\\%$. Final Answer: The final answer is $28 \\%$. I hope"
    assert find_gold(solution).parts == ("28 \\%",)
    assert find_gold("$21,16$ or $11$").parts == ("21,16 or 11",)


# --- answers in several parts -------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "parts"),
    [
        ("(2, 2), (6, 2)", ["(2, 2)", "(6, 2)"]),
        ("\\{-2021, 2021\\}", ["-2021", "2021"]),
        ("12 \\text{ and } 13", ["12", "13"]),
        ("21,16 or 11", ["21", "16", "11"]),
        ("\\pm 2021", ["2021", "-2021"]),
        ("1 \\pm \\sqrt{19}", ["1+\\sqrt{19}", "1-\\sqrt{19}"]),
        ("x_{1}=2,\\quadx_{2}=3", ["x_{1}=2", "x_{2}=3"]),
        ("1,000", ["1,000"]),
        ("[0, 1)", ["[0, 1)"]),
        ("\\frac{1 \\pm \\sqrt{5}}{2}", ["\\frac{1 \\pm \\sqrt{5}}{2}"]),
    ],
)
def test_split_parts(answer: str, parts: list[str]) -> None:
    assert split_parts(answer) == parts


def test_alternatives_are_words_semicolons_or_pm_not_commas() -> None:
    assert has_alternatives("1 \\text{ or } 2") and has_alternatives("\\pm 3")
    assert has_alternatives("(1,2); (3,4)") and not has_alternatives("1, 2")
    assert not has_alternatives("\\land") and not has_alternatives("\\operatorname{sort}")


def test_match_parts_is_a_perfect_matching() -> None:
    def equal(a: str, b: str) -> bool:
        return a == b

    assert match_parts(["1", "2"], ["2", "1"], equal)
    assert not match_parts(["1", "1"], ["1", "2"], equal)
    assert not match_parts(["1"], ["1", "2"], equal)
    assert not match_parts([], [], equal)


@pytest.mark.parametrize(
    ("completion", "gold", "correct"),
    [
        ("\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}", "(2, 2), (6, 2)", True),
        ("\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 3)}", "(2, 2), (6, 2)", False),
        ("\\boxed{-2} \\text{ and } \\boxed{1}", "\\boxed{1,-2}", True),
        ("\\boxed{1, 2}", "\\boxed{1} papers and \\boxed{2} bins", True),
        ("\\boxed{1, 3}", "\\boxed{1} papers and \\boxed{2} bins", False),
        ("\\boxed{3} or \\boxed{5}", "3", False),  # two answers for one
        ("\\boxed{15\\frac{39}{40}}, or \\boxed{\\frac{639}{40}}", "\\frac{639}{40}", True),
        ("\\boxed{\\{-2021, 2021\\}}", "\\pm 2021", True),
        ("\\boxed{2021}", "\\pm 2021", False),
        ("\\boxed{21,16,11}", "$21,16$ or $11$", True),
        ("\\boxed{19, 46, \\text{ and } 82}", "19, 46, and 82", True),
        ("\\boxed{21, 36, and 82}", "19, 46, and 82", False),
    ],
)
def test_answers_in_several_parts(completion: str, gold: str, correct: bool) -> None:
    assert score_math(completion, gold).correct is correct


# --- notation ------------------------------------------------------------------------


def test_percent_words() -> None:
    for text in ("28 percent", "28 pct", "28 percentage", "28 \\text{ percent}"):
        assert has_percent(text) and strip_percent(text) == "28", text
    assert not has_percent("28 percentile") and not has_percent("\\text{expected}")
    assert score_math("\\boxed{28 pct}", "28\\%").correct
    assert not score_math("\\boxed{29 percent}", "28\\%").correct


def test_decimal_commas_where_thousands_separators_cannot_be() -> None:
    assert comma_decimal("1000,99") == "1000.99" and comma_decimal("0,111") == "0.111"
    assert comma_decimal("1,22") == "1.22" and comma_decimal("-3,5") == "-3.5"
    assert comma_decimal("1,000") is None and comma_decimal("1, 22") is None
    assert comma_decimal("12,345") is None and comma_decimal("x,y") is None
    assert score_math("\\boxed{1000,99}", "1000.99").correct
    assert not score_math("\\boxed{1000,98}", "1000.99").correct
    assert not score_math("\\boxed{2,500}", "2.5").correct  # 2500


def test_decimals_printed_to_a_float_s_precision() -> None:
    assert full_precision_decimal("0.0833333333333333") == ("0.0833333333333333", 16)
    assert full_precision_decimal("0.333333") is None
    assert score_math("\\boxed{0.0833333333333333}", "\\frac{1}{12}").correct
    assert not score_math("\\boxed{0.0833333333333334}", "\\frac{1}{12}").correct
    assert score_math("\\boxed{\\sqrt{17}}", "4.123105625617661").correct
    assert not score_math("\\boxed{\\sqrt{17}}", "4.123105625617671").correct
    assert not score_math("\\boxed{0.333333}", "\\frac{1}{3}").correct  # rounded: not exact


def test_clock_times_and_n_over_0() -> None:
    assert clock_time("9:30") == (9, 30) and clock_time("14:64") is None
    assert not score_math("\\boxed{9:00}", "10:00").correct  # both read as n/0
    assert not score_math("\\boxed{1:00}", "12:00").correct
    assert not score_math("\\boxed{9:30}", "3:10").correct  # equal as ratios
    assert score_math("\\boxed{12:00}", "12:00").correct


def test_units_written_as_words() -> None:
    assert number_with_unit_word("125 miles") == ("125", "mi")
    assert number_with_unit_word("28 percent") is None and number_with_unit_word("3 in") is None
    assert score_math("\\boxed{125\\textnormal{ miles}}", "$125$ miles").correct
    assert not score_math("\\boxed{125\\text{ feet}}", "$125$ miles").correct


# --- equations ----------------------------------------------------------------------


def test_equations_equal_up_to_a_constant_factor() -> None:
    assert same_equation(value("2x+4y-3=0"), value("y=-\\frac{1}{2}x+\\frac{3}{4}"))
    assert same_equation(value("x^2/4 + y^2/3 = 1"), value("x^2/16 + y^2/12 = 1/4"))
    assert not same_equation(value("x^2 = 4"), value("x = 2"))
    assert not same_equation(value("y = 2x"), value("z = 2x"))
    assert not same_equation(value("y = x + 1"), value("y = x + 2"))


def test_variable_lists_and_labels() -> None:
    assert not score_math("\\boxed{n=1, 2, 3}", "n=2, 3, 4").correct
    assert not score_math("\\boxed{x \\in \\{1,2\\}}", "x \\in \\{3,4\\}").correct
    assert score_math("\\boxed{n=3, 1, 2}", "n=1, 2, 3").correct
    assert not score_math("\\boxed{m=1, 2, 3}", "n=1, 2, 3").correct
    x, y = sympy.symbols("x y")
    pair = sympy.Tuple(5, 8)
    assert unlabelled([sympy.Eq(sympy.Tuple(x, y), pair)], [pair]) == [pair]
    assert unlabelled([sympy.Eq(x, 5)], [sympy.Eq(y, 5)]) == [sympy.Eq(x, 5)]


def test_function_values_with_the_argument_renamed() -> None:
    assert same_function_values(value("W(n) = 1"), value("W(x) = 1"))
    assert same_function_values(value("f(x) = x^2"), value("f(t) = t^2"))
    assert not same_function_values(value("f(x) = x^2"), value("g(x) = x^2"))
    assert not score_math("\\boxed{f(y)}", "f(x)").correct  # not an equation: strict
    assert score_math("\\boxed{(0,1)}", "0<f(x)<1").correct
    assert not score_math("\\boxed{(0,2)}", "0<f(x)<1").correct
