"""Turn a benchmark's raw rows into prompts and gold answers, one builder per format.

- `math`: the prompt template around the problem text; gold is the reference answer.
- `multiple_choice`: the correct answer and the distractors shuffled with a seed fixed per
  problem (the same order in every run and backend); gold is the correct letter.
- `code`: the row's LiveCodeBench prompt; gold is the tests (JSON), parsed from the
  statement's samples when the mirror has no hidden tests (`tests: public-only`).
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable
from typing import Any

from evallaunch.benchmarks.problem import Problem
from evallaunch.errors import EvallaunchError

log = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJ"
Builder = Callable[[Any, dict[str, Any], int], Problem]


def _field(benchmark: Any, row: dict[str, Any], key: str, number: int) -> str:
    if key not in row:
        raise EvallaunchError(
            f"benchmark '{benchmark.name}', row {number}: no field {key!r}; "
            f"fields present: {sorted(row)}",
            hint="check the benchmark's *_field settings against the data file",
        )
    return str(row[key])


def _problem_id(benchmark: Any, row: dict[str, Any], number: int) -> str:
    return str(row.get(benchmark.id_field, number - 1))


def math_problem(benchmark: Any, row: dict[str, Any], number: int) -> Problem:
    text = _field(benchmark, row, benchmark.problem_field, number)
    return Problem(
        id=_problem_id(benchmark, row, number),
        prompt=benchmark.prompt_template.replace("{problem}", text),
        answer=_field(benchmark, row, benchmark.answer_field, number),
    )


def shuffled_choices(
    problem_id: str, seed: int, correct: str, others: list[str]
) -> tuple[list[str], str]:
    """Options in a per-problem order fixed by (seed, problem id), and the correct letter."""
    digest = hashlib.sha256(f"{seed}:{problem_id}".encode()).hexdigest()
    options = [correct, *others]
    order = list(range(len(options)))
    random.Random(int(digest[:16], 16)).shuffle(order)
    shuffled = [options[i] for i in order]
    return shuffled, LETTERS[order.index(0)]


def multiple_choice_problem(benchmark: Any, row: dict[str, Any], number: int) -> Problem:
    problem_id = _problem_id(benchmark, row, number)
    correct = _field(benchmark, row, benchmark.answer_field, number).strip()
    others = [_field(benchmark, row, key, number).strip() for key in benchmark.distractor_fields]
    options, letter = shuffled_choices(problem_id, benchmark.choice_seed, correct, others)
    prompt = benchmark.prompt_template.replace(
        "{problem}", _field(benchmark, row, benchmark.problem_field, number).strip()
    )
    for index, option in enumerate(options):
        prompt = prompt.replace("{" + LETTERS[index] + "}", option)
    return Problem(id=problem_id, prompt=prompt, answer=letter)


def code_problem(benchmark: Any, row: dict[str, Any], number: int) -> Problem:
    from evallaunch.scoring.code import parse_sample_tests, tests_to_json

    statement = _field(benchmark, row, benchmark.problem_field, number)
    tests = row.get("public_tests") or parse_sample_tests(statement)
    return Problem(
        id=_problem_id(benchmark, row, number),
        prompt=benchmark.prompt_template.replace("{problem}", statement),
        answer=tests_to_json(tests),
    )


BUILDERS: dict[str, Builder] = {
    "math": math_problem,
    "multiple_choice": multiple_choice_problem,
    "code": code_problem,
}


def build_problems(benchmark: Any, rows: list[dict[str, Any]]) -> list[Problem]:
    """Problems from rows with the builder of `benchmark.format`."""
    try:
        builder = BUILDERS[benchmark.format]
    except KeyError:
        raise EvallaunchError(
            f"benchmark.format={benchmark.format!r}; valid choices: {sorted(BUILDERS)}"
        ) from None
    problems = [builder(benchmark, row, number) for number, row in enumerate(rows, start=1)]
    if benchmark.format == "code":
        from evallaunch.scoring.code import tests_from_json

        scorable = [p for p in problems if tests_from_json(p.answer)]
        if len(scorable) < len(problems):
            log.warning(
                "%s: %d of %d problems have no public tests in the mirror (function-call "
                "problems need the Hub's private tests) and are left out",
                benchmark.name,
                len(problems) - len(scorable),
                len(problems),
            )
        problems = scorable
    return problems


def row_in_window(benchmark: Any, row: dict[str, Any]) -> bool:
    """Whether a row's date lies in [date_from, date_to) when a window is configured."""
    if not (benchmark.date_from or benchmark.date_to):
        return True
    date = str(row.get(benchmark.date_field, ""))[:10]
    after = not benchmark.date_from or date >= str(benchmark.date_from)
    before = not benchmark.date_to or date < str(benchmark.date_to)
    return after and before
