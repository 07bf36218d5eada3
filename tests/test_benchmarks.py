"""The benchmark suite on the real mirror files: loading, prompts, gold self-scores, rescoring."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from evallaunch.benchmarks.mirror import load_problems
from evallaunch.errors import EvallaunchError
from evallaunch.scoring.choice import extract_choice
from evallaunch.scoring.code import parse_sample_tests
from evallaunch.scoring.registry import score_batch
from tests.helpers import compose_spec


def benchmark(name: str, *overrides: str):
    return compose_spec([f"benchmark={name}", *overrides]).benchmark


def test_every_local_benchmark_loads_in_full(shared_datasets: Path) -> None:
    # LiveCodeBench: the 175 AtCoder problems with sample tests (function-call ones need
    # the private tests, which the offline mirror lacks).
    sizes = {"math_500": 500, "aime24": 30, "gpqa_diamond": 198, "lcb_codegen": 175}
    for name, size in sizes.items():
        problems, digest = load_problems(benchmark(name), shared_datasets)
        assert len(problems) == size, name
        assert len({p.id for p in problems}) == size, f"{name}: problem ids are not unique"
        assert len(digest) == 64


def test_open_r1_sample_counts_and_prompts() -> None:
    expected_n = {"math_500": 4, "aime24": 64, "aime25": 64, "gpqa_diamond": 8, "lcb_codegen": 16}
    for name, n in expected_n.items():
        assert benchmark(name).n == n
    for name in ("math_500", "aime24", "aime25"):
        assert "put your final answer within \\boxed{}" in benchmark(name).prompt_template


def test_limit_takes_the_first_problems(shared_datasets: Path) -> None:
    problems, _ = load_problems(benchmark("aime24", "benchmark.limit=3"), shared_datasets)
    rows = [
        json.loads(line) for line in (shared_datasets / "aime24.jsonl").read_text().splitlines()
    ]
    assert [p.id for p in problems] == [str(row["id"]) for row in rows[:3]]


def gold_completion(name: str, answer: str) -> str:
    if name == "gpqa_diamond":
        return f"Let me think.\nAnswer: {answer}"
    return f"<think>maybe \\boxed{{0}}</think>So the answer is $\\boxed{{{answer}}}$."


@pytest.mark.parametrize("name", ["math_500", "aime24", "gpqa_diamond"])
def test_gold_answers_score_100_and_wrong_answers_0(name: str, shared_datasets: Path) -> None:
    bench = benchmark(name)
    problems, _ = load_problems(bench, shared_datasets)
    golds = [p.answer for p in problems]
    right = score_batch(bench.scorer, [gold_completion(name, g) for g in golds], golds)
    assert sum(s.correct for s in right) == len(problems)
    wrong_answers = {"math_500": "\\boxed{-12345}", "aime24": "\\boxed{1000}", "gpqa_diamond": "E"}
    wrong = score_batch(bench.scorer, [f"Answer: {wrong_answers[name]}"] * len(golds), golds)
    assert not any(s.correct for s in wrong)


def test_math_500_reference_solutions_score_100(shared_datasets: Path) -> None:
    rows = [
        json.loads(line) for line in (shared_datasets / "math500.jsonl").read_text().splitlines()
    ]
    scores = score_batch("math", [row["solution"] for row in rows], [row["answer"] for row in rows])
    assert sum(s.correct for s in scores) == 500


def test_aime_leading_zeros_are_equal() -> None:
    assert score_batch("integer", ["\\boxed{025}", "\\boxed{25}"], ["25", "025"])[0].correct
    assert score_batch("integer", ["\\boxed{25}"], ["025"])[0].correct


def test_gpqa_options_are_shuffled_with_a_fixed_seed(shared_datasets: Path) -> None:
    first, _ = load_problems(benchmark("gpqa_diamond"), shared_datasets)
    again, _ = load_problems(benchmark("gpqa_diamond"), shared_datasets)
    assert [p.prompt for p in first] == [p.prompt for p in again]
    letters = Counter(p.answer for p in first)
    assert set(letters) == set("ABCD") and min(letters.values()) > 198 / 4 / 2
    other_seed, _ = load_problems(
        benchmark("gpqa_diamond", "benchmark.choice_seed=1"), shared_datasets
    )
    assert [p.answer for p in other_seed] != [p.answer for p in first]
    assert "A) " in first[0].prompt and "D) " in first[0].prompt and "{A}" not in first[0].prompt


def test_gpqa_plain_text_is_never_written_to_the_mirror(
    shared_datasets: Path, tmp_path: Path
) -> None:
    (tmp_path / "gpqa_dataset.zip").write_bytes((shared_datasets / "gpqa_dataset.zip").read_bytes())
    load_problems(benchmark("gpqa_diamond"), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpqa_dataset.zip"]


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("The answer is (C).", "C"),
        ("Answer: B", "B"),
        ("so we get \\boxed{D}", "D"),
        ("<think>Answer: A</think>\nFinal answer: **C**", "C"),
        ("I am not sure.", None),
    ],
)
def test_choice_extraction(text: str, letter: str | None) -> None:
    assert extract_choice(text) == letter


def test_lcb_release_window_selects_by_contest_date(shared_datasets: Path) -> None:
    window = benchmark(
        "lcb_codegen", "benchmark.date_from=2024-11-01", "benchmark.date_to=2025-01-01"
    )
    problems, _ = load_problems(window, shared_datasets)
    rows = [
        json.loads(line) for line in (shared_datasets / "lcb_v5.jsonl").read_text().splitlines()
    ]
    expected = [
        r
        for r in rows
        if "2024-11-01" <= r["contest_date"][:10] < "2025-01-01" and parse_sample_tests(r["prompt"])
    ]
    assert 0 < len(problems) == len(expected) < 279


def test_corrupted_mirror_file_fails_with_the_hash(tmp_path: Path, shared_datasets: Path) -> None:
    lines = (shared_datasets / "aime24.jsonl").read_text().splitlines()
    (tmp_path / "aime24.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(EvallaunchError, match="sha256"):
        load_problems(benchmark("aime24"), tmp_path)


def test_score_command_regrades_a_jsonl_of_completions(
    tmp_path: Path, shared_datasets: Path
) -> None:
    rows = [
        json.loads(line) for line in (shared_datasets / "aime24.jsonl").read_text().splitlines()
    ]
    completions = tmp_path / "other-tool.jsonl"
    with completions.open("w") as handle:
        for row in rows[:5]:  # 2 samples per problem: one right, one wrong
            handle.write(
                json.dumps({"id": row["id"], "completion": f"\\boxed{{{row['answer']}}}"}) + "\n"
            )
            handle.write(json.dumps({"id": row["id"], "completion": "\\boxed{1000}"}) + "\n")
    out = tmp_path / "scored"
    command = [sys.executable, "-m", "evallaunch.cli", "score", "aime24", str(completions)]
    proc = subprocess.run(
        [*command, "--output", str(out), "--data-dir", str(shared_datasets)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["num_problems"] == 5 and results["num_samples"] == 2
    assert results["metrics"]["pass@1"]["value"] == pytest.approx(0.5)
    assert results["metrics"]["pass@2"]["value"] == pytest.approx(1.0)
    details = pd.read_parquet(out / "details.parquet")
    assert list(details["correct"]) == [True, False] * 5
    # Re-scoring evallaunch's own details gives the same numbers.
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "evallaunch.cli",
            "score",
            "aime24",
            str(out / "details.parquet"),
            "--output",
            str(tmp_path / "again"),
            "--data-dir",
            str(shared_datasets),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert (
        json.loads((tmp_path / "again" / "results.json").read_text())["metrics"]
        == results["metrics"]
    )
