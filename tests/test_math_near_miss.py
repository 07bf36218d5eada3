"""score_math on the near-miss corpus (tests/data/math_near_miss.jsonl): every answer that
keeps the gold's value is accepted, every one that changes it is rejected; and the table
of docs/math-scoring.md, on which plain math-verify gets every row wrong."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from math_verify import parse, verify

from evallaunch.scoring import score_math

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "data" / "math_near_miss.jsonl"
DOC = REPO / "docs" / "math-scoring.md"


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def test_corpus_covers_every_gold_answer_with_both_labels(
    corpus: list[dict[str, Any]], shared_datasets: Path
) -> None:
    assert len(corpus) >= 1500
    assert len({case["id"] for case in corpus}) == len(corpus)
    labels = Counter(case["equivalent"] for case in corpus)
    assert labels[True] >= 500 and labels[False] >= 500
    golds = {(case["source"], case["problem_id"]) for case in corpus}
    for source, file, key in (("math_500", "math500", "unique_id"), ("aime24", "aime24", "id")):
        rows = (shared_datasets / f"{file}.jsonl").read_text().splitlines()
        ids = {str(json.loads(row)[key]) for row in rows}
        assert ids == {pid for src, pid in golds if src == source}, source
    kinds = {case["kind"] for case in corpus}
    for kind in (
        "interval_endpoint",
        "interval_bracket",
        "interval_membership",
        "inequality_form",
        "membership_form",
        "sign",
        "tuple_swap",
        "tuple_drop",
        "set_drop",
        "fraction_neighbour",
        "radical_neighbour",
        "equation_variable",
        "equation_coefficient",
        "degrees_radians",
        "base_subscript",
        "unit_change",
        "percent_value",
        "pm_branch",
        "matrix_entry",
        "spacing",
        "left_right",
        "dfrac",
        "exact_decimal",
        "set_order",
        "x_prefix",
        "text_unit",
        "thousands_separator",
    ):
        assert kind in kinds, kind


@pytest.mark.slow  # the generator checks every label numerically: seconds of sympy
def test_corpus_is_what_the_generator_writes(tmp_path: Path, shared_datasets: Path) -> None:
    # the generator also checks every scalar label numerically before writing
    out = tmp_path / "corpus.jsonl"
    command = [sys.executable, str(CORPUS.parent / "make_math_near_miss.py")]
    proc = subprocess.run(
        [*command, "--data", str(shared_datasets), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.read_text(encoding="utf-8") == CORPUS.read_text(encoding="utf-8")


def test_score_math_gets_every_corpus_case_right(corpus: list[dict[str, Any]]) -> None:
    wrong = []
    for case in corpus:
        score = score_math(case["completion"], case["gold"], integer_answer=case["integer_answer"])
        if score.correct != case["equivalent"]:
            wrong.append((case["kind"], case["gold"], case["answer"], case["equivalent"]))
    false_accepts = [w for w in wrong if not w[3]]
    false_rejects = [w for w in wrong if w[3]]
    assert (false_accepts, false_rejects) == ([], [])


def _doc_rows() -> list[tuple[str, str, str, bool]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[3] in ("yes", "no"):
            gold, answer = (re.fullmatch(r"`(.*)`", cell)[1] for cell in cells[1:3])  # type: ignore[index]
            rows.append((cells[0], gold, answer, cells[3] == "yes"))
    return rows


def test_docs_table_lists_only_answers_plain_math_verify_gets_wrong() -> None:
    rows = _doc_rows()
    assert len(rows) >= 15
    for kind, gold, answer, same_value in rows:
        completion = f"The answer is $\\boxed{{{answer}}}$."
        plain = verify(parse(f"$\\boxed{{{gold}}}$"), parse(completion))
        assert plain is not same_value, f"{kind}: plain math-verify now gets {answer!r} right"
        assert score_math(completion, gold).correct is same_value, kind
