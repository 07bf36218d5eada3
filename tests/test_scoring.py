"""Tests for evallaunch.scoring on the real MATH-500 and AIME 2024 data."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from evallaunch.scoring import (
    MathScore,
    MetricValue,
    majority_vote,
    pass_at_k,
    score_math,
    strip_think,
    summarize,
)

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _load(name: str) -> list[dict[str, Any]]:
    path = DATASETS / name
    if not path.is_file():
        pytest.skip(f"shared dataset {path} is not available")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def math500() -> list[dict[str, Any]]:
    rows = _load("math500.jsonl")
    assert len(rows) == 500
    return rows


@pytest.fixture(scope="module")
def aime24() -> list[dict[str, Any]]:
    rows = _load("aime24.jsonl")
    assert len(rows) == 30
    return rows


# --- gold answers score themselves -------------------------------------------------


def test_math500_reference_solutions_are_correct(math500: list[dict[str, Any]]) -> None:
    failures = [
        (row["unique_id"], row["answer"], score)
        for row in math500
        if not (score := score_math(row["solution"], row["answer"])).correct
    ]
    assert failures == []


def test_math500_boxed_gold_answers_are_correct(math500: list[dict[str, Any]]) -> None:
    failures = [
        (row["unique_id"], row["answer"], score)
        for row in math500
        if not (score := score_math("\\boxed{" + row["answer"] + "}", row["answer"])).correct
    ]
    assert failures == []


def test_math500_other_rows_answers_are_wrong(math500: list[dict[str, Any]]) -> None:
    checked, false_positives = 0, []
    for row, other in zip(math500, math500[1:] + math500[:1], strict=True):
        gold, wrong = row["answer"].strip(), other["answer"].strip()
        # math-verify deliberately accepts "x=5" for gold "5"; such pairs are not wrong.
        if gold == wrong or gold.split("=")[-1] == wrong.split("=")[-1]:
            continue
        checked += 1
        score = score_math(f"Thus the answer is $\\boxed{{{wrong}}}$.", gold)
        if score.correct:
            false_positives.append((gold, wrong, score))
    assert checked >= 450
    assert false_positives == []


def test_aime24_boxed_answers(aime24: list[dict[str, Any]]) -> None:
    for row in aime24:
        gold = row["answer"]
        assert score_math("\\boxed{" + gold + "}", gold, integer_answer=True).correct, gold
        plain = str(int(gold))
        assert score_math(f"so \\boxed{{{plain}}}", gold, integer_answer=True).correct, gold
        wrong = str(int(gold) + 1)
        assert not score_math("\\boxed{" + wrong + "}", gold, integer_answer=True).correct


def test_aime_leading_zeros() -> None:
    assert score_math("\\boxed{025}", "25", integer_answer=True) == MathScore("25", True)
    assert score_math("\\boxed{25}", "025", integer_answer=True).correct
    assert score_math("\\boxed{\\textbf{(073)}}", "073", integer_answer=True).correct
    assert not score_math("\\boxed{250}", "025", integer_answer=True).correct


# --- extraction from model-output styles -------------------------------------------


def test_strip_think_keeps_what_follows_the_thinking() -> None:
    """One rule for evallaunch's scoring and the harnesses' (benchmark.strip_think)."""
    assert strip_think("<think>x = 3</think>\nSo 4.") == "So 4."
    assert strip_think("<think>2+2=5?</think>\n\nThe answer is 4.") == "The answer is 4."
    assert strip_think("scratch work</think>4") == "4"  # the template opened the thinking
    assert strip_think("<think>a</think>b</think>c") == "c"  # several: after the last
    assert strip_think("<think>a</think>b <think>again, never ends") == "b "
    assert strip_think("<think>still thinking about \\boxed{3}") == ""  # unclosed: no answer
    assert strip_think("  no reasoning block") == "  no reasoning block"  # no tags: as it is


def test_think_block_is_ignored() -> None:
    text = "<think>Maybe it is \\boxed{3}. No wait.</think>The answer is $\\boxed{\\frac{1}{2}}$."
    assert score_math(text, "0.5") == MathScore("1/2", True)
    wrong = "<think>I get \\boxed{\\frac{1}{2}}</think>Final: \\boxed{3}"
    assert score_math(wrong, "\\frac{1}{2}") == MathScore("3", False)
    unfinished = "<think>Long reasoning reaching \\boxed{\\frac{1}{2}} and then"
    assert score_math(unfinished, "\\frac12") == MathScore(None, False)


def test_last_boxed_answer_wins() -> None:
    assert score_math("First \\boxed{1}, on reflection \\boxed{2}.", "2").correct
    assert not score_math("First \\boxed{2}, on reflection \\boxed{1}.", "2").correct
    assert score_math("$\\boxed{\\{1, 2\\}}$", "\\{1,2\\}").correct


def test_truncated_output_without_box() -> None:
    text = "Let me compute 3 + 4 = 7, and then multiply by"
    assert score_math(text, "7") == MathScore(None, False)
    assert score_math("Proceeding: \\boxed{12", "12") == MathScore(None, False)
    assert score_math("", "1") == MathScore(None, False)


def test_anchored_answer_without_box() -> None:
    assert score_math("So the final answer is $\\frac{1}{2}$.", "0.5").correct
    assert score_math("Answer: 42", "42").correct


def test_text_answers() -> None:
    assert score_math("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}").correct
    assert score_math("The winner is \\boxed{Evelyn}", "\\text{Evelyn}").correct
    assert not score_math("\\boxed{\\text{Navin}}", "\\text{Evelyn}").correct
    assert score_math("\\boxed{C}", "\\text{(C)}").correct
    assert score_math("\\boxed{\\textbf{(C)}}", "\\text{(C)}").correct
    assert not score_math("\\boxed{(D)}", "\\text{(C)}").correct
    assert score_math("\\boxed{5.4}", "5.4 \\text{ cents}").correct


def test_fractions_and_decimals() -> None:
    assert score_math("\\boxed{0.5}", "\\frac{1}{2}").correct
    assert score_math("\\boxed{\\frac{2}{4}}", "0.5").correct
    assert score_math("\\boxed{\\dfrac{14}{3}}", "\\frac{14}{3}").correct
    assert not score_math("\\boxed{\\frac{1}{3}}", "\\frac{1}{2}").correct


def test_intervals_and_tuples() -> None:
    assert score_math("\\boxed{(-\\infty, 3]}", "(-\\infty,3]").correct
    assert not score_math("\\boxed{(-\\infty, 3)}", "(-\\infty,3]").correct
    gold = "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert score_math("\\boxed{(3, \\pi/2)}", gold) == MathScore("(3, pi/2)", True)
    assert not score_math("\\boxed{(2, \\frac{\\pi}{2})}", gold).correct
    assert score_math("\\boxed{-2, 1}", "1,-2").correct


@pytest.mark.parametrize(
    ("answer", "gold", "correct"),
    [
        ("10\\%", "10", True),  # the question asked for a percentage
        ("15\\%", "0.15", True),
        ("11\\%", "10", False),
        ("0.5\\%", "\\frac{1}{2}", False),
        ("864 \\text{ inches squared}", "864 \\mbox{ inches}^2", True),
        ("864 \\text{ feet}^2", "864 \\mbox{ inches}^2", False),
        ("\\$18.9", "\\$18.90", True),
        ("18.90 \\text{ cents}", "\\$18.90", False),
        ("x \\in [-2, 7]", "[-2,7]", True),
        ("x \\in [-2, 7.5]", "x \\in [-2,7]", False),
        ("(52)_8", "52_8", True),
        ("52_9", "52_8", False),
        ("-30^\\circ", "-\\frac{\\pi}{6}", True),
        ("-\\frac{\\pi}{6}^\\circ", "-\\frac{\\pi}{6}", False),
        ("0.0000671", ".0000672", False),
    ],
)
def test_answer_forms_read_from_the_latex(answer: str, gold: str, correct: bool) -> None:
    assert score_math(f"So the answer is $\\boxed{{{answer}}}$.", gold).correct is correct


@pytest.mark.parametrize(
    "completion",
    [
        "\\boxed{}",
        "}}}{{{\\boxed{\\frac{",
        "\\boxed{9^{9^{9^{9}}}}",
        "\\boxed{1000000!}",
        "\\boxed{(10^{10})!}",
        "\\boxed{" + "x+" * 2000 + "1}",
        "\\boxed{\\frac{1}{0}}",
        "\\boxed{\\begin{pmatrix} 1 & 2 \\end{pmatrix}}",
        "\x00\\boxed{\ud800}",
    ],
)
def test_weird_input_never_raises(completion: str) -> None:
    score = score_math(completion, "5")
    assert score.correct is False
    assert score.extracted is None or len(score.extracted) <= 200


def test_works_in_worker_threads() -> None:
    cases = [
        ("\\boxed{\\frac{6}{8}}", "0.75"),
        ("\\boxed{\\sqrt{18}}", "3\\sqrt{2}"),
        ("\\boxed{[-7, \\tfrac{3}{2})}", "\\left[ -7, \\frac32 \\right)"),
        ("\\boxed{\\frac{6}{8}}", "0.7"),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = list(pool.map(lambda case: score_math(*case), cases))
    assert [s.correct for s in threaded] == [True, True, True, False]
    assert threaded == [score_math(*case) for case in cases]


# --- metrics -----------------------------------------------------------------------


def test_pass_at_k_hand_computed() -> None:
    assert pass_at_k(4, 2, 1) == pytest.approx(0.5)
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    assert pass_at_k(4, 2, 4) == 1.0
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 5, 1) == 1.0
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - math.comb(7, 5) / math.comb(10, 5))
    assert pass_at_k(1000, 1, 500) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_majority_vote() -> None:
    answers: list[str | None] = ["1/2", "3", "1/2", None, "3", "3"]
    correct = [True, False, True, False, False, False]
    assert majority_vote(answers, correct, 3) is True
    assert majority_vote(answers, correct, 6) is False
    # 2-2 tie at k=5: "1/2" was seen first.
    assert majority_vote(answers, correct, 5) is True
    assert majority_vote([None, None], [False, False], 2) is False
    assert majority_vote([None, "7"], [False, True], 2) is True
    with pytest.raises(ValueError):
        majority_vote(["1"], [True], 2)


def test_summarize_hand_computed() -> None:
    correct = [
        [True, True, False, False],
        [True, True, True, True],
        [False, False, False, False],
    ]
    answers: list[list[str | None]] = [
        ["1", "1", "2", "2"],
        ["5", "5", "5", "5"],
        [None, "3", "4", "4"],
    ]
    result = summarize(correct, answers, seed=1)
    assert list(result) == ["pass@1", "pass@2", "pass@4", "maj@4"]
    pass1 = result["pass@1"]
    assert pass1.value == pytest.approx(0.5)
    # per-problem scores 0.5, 1, 0: sample std 0.5, stderr 0.5 / sqrt(3)
    assert pass1.stderr == pytest.approx(0.5 / math.sqrt(3))
    assert (pass1.k, pass1.n) == (1, 3)
    assert pass1.ci_low is not None and pass1.ci_high is not None
    assert 0.0 <= pass1.ci_low <= pass1.value <= pass1.ci_high <= 1.0
    assert result["pass@2"].value == pytest.approx((5 / 6 + 1 + 0) / 3)
    assert result["pass@4"].value == pytest.approx(2 / 3)
    assert result["maj@4"].value == pytest.approx(2 / 3)
    assert summarize(correct, answers, seed=1) == result
    assert result["pass@1"].to_dict() == {
        "name": "pass@1",
        "value": pass1.value,
        "stderr": pass1.stderr,
        "ci_low": pass1.ci_low,
        "ci_high": pass1.ci_high,
        "k": 1,
        "n": 3,
    }


def test_summarize_ks_and_edge_cases() -> None:
    six = summarize([[True, False, True, False, False, True]] * 2)
    assert list(six) == ["pass@1", "pass@2", "pass@4", "pass@6"]
    single = summarize([[True]])
    assert list(single) == ["pass@1"]
    assert single["pass@1"] == MetricValue("pass@1", 1.0, None, None, None, 1, 1)
    assert "maj@1" not in summarize([[True], [False]], [["1"], ["2"]])
    with pytest.raises(ValueError):
        summarize([[True, False], [True]])
    with pytest.raises(ValueError):
        summarize([])


def test_bootstrap_ci_contains_mean() -> None:
    correct = [[(i * 7 + j) % 3 == 0 for j in range(8)] for i in range(40)]
    result = summarize(correct, seed=123, n_bootstrap=500)
    for metric in result.values():
        assert metric.ci_low is not None and metric.ci_high is not None
        assert metric.ci_low <= metric.value <= metric.ci_high
        assert metric.ci_low >= 0.0 and metric.ci_high <= 1.0
