"""A failure of the scorer itself is told apart from a wrong answer: kept with its traceback,
flagged on the sample, logged once per grading and counted in results.json."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evallaunch.backends.base import Completion
from evallaunch.benchmarks.problem import Problem
from evallaunch.scoring import math_answers
from evallaunch.scoring.math_answers import MathScore, score_math


def failing_on(gold_to_fail: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """`real` (a step of the scorer), raising for one gold answer: a scorer bug."""

    def step(*args: Any) -> Any:
        if gold_to_fail in args:
            raise ZeroDivisionError("a scorer bug")
        return real(*args)

    return step


def test_a_failure_inside_the_scorer_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(math_answers, "_matches", failing_on("5", math_answers._matches))
    score = score_math("so \\boxed{5}", "5")
    assert (score.extracted, score.correct) == ("5", False)
    assert score.error is not None and "ZeroDivisionError: a scorer bug" in score.error
    assert score_math("so \\boxed{4}", "4") == MathScore("4", True)  # no error
    assert score_math("no answer here", "4") == MathScore(None, False)  # nothing found: no error

    monkeypatch.setattr(
        math_answers, "_extract", failing_on("so \\boxed{4}", math_answers._extract)
    )
    score = score_math("so \\boxed{4}", "4")
    assert (score.extracted, score.correct) == (None, False)
    assert score.error is not None and "_extract" in score.error


def test_a_job_flags_scorer_failures_and_logs_the_first_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from evallaunch.job.grading import score_completions

    monkeypatch.setattr(math_answers, "_matches", failing_on("5", math_answers._matches))
    problems = [Problem("a", "?", "5"), Problem("b", "?", "4")]
    completions = [
        Completion(pid, index, "?", f"so \\boxed{{{answer}}}", "stop", 4)
        for pid, answer in (("a", "5"), ("b", "4"))
        for index in range(3)
    ]
    with caplog.at_level(logging.WARNING):
        rows = score_completions(completions, problems, "math")
    assert [(r["problem_id"], r["scorer_error"], r["correct"]) for r in rows] == [
        ("a", True, False),
        ("a", True, False),
        ("a", True, False),
        ("b", False, True),
        ("b", False, True),
        ("b", False, True),
    ]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "3 of 6" in warning and warning.count("ZeroDivisionError: a scorer bug") == 1


def test_results_json_counts_the_completions_the_scorer_failed_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_datasets: Path
) -> None:
    from evallaunch.job.rescore import rescore
    from tests.helpers import compose_spec

    benchmark = compose_spec(["benchmark=aime24"]).benchmark
    rows = (shared_datasets / "aime24.jsonl").read_text().splitlines()
    golds = [(str(json.loads(row)["id"]), json.loads(row)["answer"]) for row in rows[:2]]
    monkeypatch.setattr(math_answers, "_matches", failing_on(golds[0][1], math_answers._matches))
    completions = tmp_path / "completions.jsonl"
    lines = [{"id": pid, "completion": f"So \\boxed{{{int(gold)}}}."} for pid, gold in golds]
    completions.write_text("".join(json.dumps(line) + "\n" for line in lines * 2))

    results = rescore(benchmark, str(shared_datasets), completions, tmp_path / "out")
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["scorer_errors"] == written["scorer_errors"] == 2
    assert written["metrics"]["pass@1"]["value"] == 0.5  # the failed ones count as wrong
