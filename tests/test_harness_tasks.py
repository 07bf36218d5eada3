"""Any lm-eval task by name (`benchmark=harness benchmark.task=...`), offline from the mirror.

GSM8K comes from ../shared/datasets/gsm8k (the authors' files), put into a mirror of the
test's own with `evallaunch prepare --task gsm8k --source DIR`; jobs then run with the Hub
and datasets offline and read only that mirror."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evallaunch.backends.details import detail_rows
from evallaunch.collect.compare import compare_jobs
from evallaunch.harness.lmeval.results import lm_eval_samples, task_metrics
from evallaunch.job.results import validate_results
from tests.harness_jobs import evaluate, mean_by, run
from tests.helpers import REPO, engine_kept_max_new_tokens, harness_completion_tokens

USER_TASKS = REPO / "tests" / "data" / "lmeval_tasks"
# Few tokens and documents: minutes on 2 cores.
SMALL = ["backend=lmeval", "backend.batch_size=3", "benchmark.limit=3"]


@pytest.fixture
def user_tasks(tmp_path: Path) -> Path:
    """The user's task directory, its multiple-choice data at an absolute path."""
    tasks = tmp_path / "my_tasks"
    shutil.copytree(USER_TASKS, tasks)
    mc = tasks / "el_mc.yaml"
    mc.write_text(mc.read_text().replace("MC_DATA", str(tasks / "mc_test.jsonl")))
    return tasks


def job_dir(tmp_path: Path, task: str) -> Path:
    return tmp_path / "outputs" / "default" / "smollm2-135m-instruct" / "main" / task / "lmeval"


@pytest.mark.slow
def test_lm_eval_s_own_gsm8k_runs_offline_from_the_mirror(tmp_path: Path, mirror: Path) -> None:
    """lm-eval's built-in gsm8k (its YAML, few-shot from train, both filters, exact match)
    on the embedded model, with generation.max_new_tokens as lm-eval's max_gen_toks: each
    metric is what the per-sample details imply and what lm-eval itself reported, the
    task's version, few-shot count and data hashes are recorded."""
    evaluate(
        tmp_path,
        mirror,
        *SMALL,
        "benchmark.task=gsm8k",
        "benchmark.num_fewshot=2",
        "generation.max_new_tokens=24",  # reaches lm-eval as its max_gen_toks
    )
    out = job_dir(tmp_path, "gsm8k")
    results = json.loads((out / "results.json").read_text())
    assert validate_results(results) == []
    assert results["generation"]["gen_kwargs"] == "max_gen_toks=24"
    samples = (out / "backend" / "samples.jsonl").read_text().splitlines()
    assert {json.loads(line)["arguments"][0][1]["max_gen_toks"] for line in samples} == {24}
    assert max(harness_completion_tokens(out)) <= 24
    cut = engine_kept_max_new_tokens(out, 24)["truncated"]
    assert cut.any() and results["num_truncated"] == int(cut.sum())  # 24 tokens cut gsm8k
    details = pd.read_parquet(out / "details.parquet")
    assert len(details) == 3 * 2  # 3 documents x lm-eval's 2 filters
    raw = json.loads((out / "backend" / "results.json").read_text())["results"]["gsm8k"]
    for filter_name in ("strict-match", "flexible-extract"):
        metric = results["metrics"][f"exact_match,{filter_name}"]
        assert metric["value"] == mean_by(details, "gsm8k", "exact_match", filter_name)
        assert metric["value"] == raw[f"exact_match,{filter_name}"]
        assert metric["n"] == 3
    gsm8k = results["tasks"]["gsm8k"]
    assert (gsm8k["num_fewshot"], gsm8k["version"]) == (2, 3.0)
    assert set(results["benchmark"]["data_sha256"]) == {
        "openai/gsm8k:main:test",
        "openai/gsm8k:main:train",
    }
    # the few-shot examples come from the mirrored train split
    assert "####" in details["prompt"].iloc[0]


@pytest.mark.slow
def test_a_user_group_of_a_generative_and_a_multiple_choice_task(
    tmp_path: Path, mirror: Path, user_tasks: Path
) -> None:
    """benchmark.include_path: the user's group runs both of its tasks; its `acc` is their
    mean weighted by size, as lm-eval defines it; the table has a row per task and group."""
    evaluate(
        tmp_path, mirror, *SMALL, "benchmark.task=el_suite", f"benchmark.include_path={user_tasks}"
    )
    results = json.loads((job_dir(tmp_path, "el_suite") / "results.json").read_text())
    tasks = results["tasks"]
    assert set(tasks) == {"el_suite", "el_gen", "el_mc"}
    gen, mc = tasks["el_gen"]["metrics"]["acc,none"], tasks["el_mc"]["metrics"]["acc,none"]
    expected = (gen["value"] * gen["n"] + mc["value"] * mc["n"]) / (gen["n"] + mc["n"])
    assert tasks["el_suite"]["metrics"]["acc,none"]["value"] == pytest.approx(expected)
    details = pd.read_parquet(job_dir(tmp_path, "el_suite") / "details.parquet")
    assert mc["value"] == mean_by(details, "el_mc", "acc", "none")
    assert set(details["task"]) == {"el_gen", "el_mc"}
    # evallaunch compare pairs the documents of every task of the group
    job = job_dir(tmp_path, "el_suite")
    paired = compare_jobs(job, job, "el_suite")
    assert paired.num_problems == 3 + 3 and paired.diff == 0
    assert paired.a == pytest.approx(expected)


@pytest.mark.slow
def test_a_sweep_mixing_math_500_and_a_harness_task_collects_into_one_table(
    tmp_path: Path, mirror: Path
) -> None:
    """One multirun: evallaunch's math_500 and lm-eval's gsm8k; collect puts both in one
    table, each with its headline score."""
    run(
        "-m",
        "evallaunch.evaluate",
        "--multirun",
        f"paths.output_root={tmp_path / 'outputs'}",
        f"paths.data_dir={mirror}",
        "benchmark=math_500,harness",
        "benchmark.task=gsm8k",
        *SMALL,
        "benchmark.n=1",
        "generation.max_new_tokens=24",
        "benchmark.gen_kwargs='max_gen_toks=24'",
        "benchmark.num_fewshot=0",
        cwd=tmp_path,
    )
    run(
        "-m",
        "evallaunch.cli",
        "collect",
        str(tmp_path / "outputs"),
        "--output",
        str(tmp_path / "collected"),
        "--no-wandb",
        cwd=tmp_path,
    )
    table = pd.read_parquet(tmp_path / "collected" / "table.parquet")
    assert {("math_500", "pass@1"), ("gsm8k", "exact_match,strict-match")} <= set(
        zip(table["benchmark"], table["metric"], strict=True)
    )


def test_bad_harness_tasks_fail_before_any_model_loads(
    tmp_path: Path, mirror: Path, user_tasks: Path
) -> None:
    """An unknown task names the closest ones; a group with an unknown member names it; a
    task whose data is not in the mirror names the prepare command."""
    broken = user_tasks / "el_broken.yaml"
    broken.write_text("group: el_broken\ntask:\n  - el_gen\n  - el_missing\n")
    cases = {
        "benchmark.task=gsm8kk": "closest: gsm8k",
        "benchmark.task=el_broken": "its member el_missing",
        "benchmark.task=arc_easy": "evallaunch prepare --task arc_easy",
    }
    for override, expected in cases.items():
        proc = evaluate(
            tmp_path,
            mirror,
            "backend=lmeval",
            override,
            f"benchmark.include_path={user_tasks}",
            check=False,
            forked=True,
        )
        assert proc.returncode != 0 and expected in proc.stderr, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr


def test_tasks_lists_names_with_their_data_in_the_mirror(tmp_path: Path, mirror: Path) -> None:
    out = run(
        "-m",
        "evallaunch.cli",
        "tasks",
        "gsm8k",
        "--data-dir",
        str(mirror),
        cwd=tmp_path,
        forked=True,
    ).stdout
    lines = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert lines["gsm8k"].endswith("1/1 dataset(s)")
    assert lines["gsm8k_platinum"].endswith("0/1 dataset(s)")


def test_lm_eval_results_become_metrics_with_their_filter_and_stderr() -> None:
    results = {
        "results": {
            "t": {
                "alias": "t",
                "sample_len": 4,
                "acc,none": 0.5,
                "acc_stderr,none": 0.25,
                "em,strict": 1.0,
                "em_stderr,strict": "N/A",
            },
        },
        "n-samples": {"t": {"original": 10, "effective": 4}},
    }
    metrics = task_metrics(results)["t"]
    assert metrics["acc,none"] == {
        "name": "acc,none",
        "value": 0.5,
        "stderr": 0.25,
        "ci_low": None,
        "ci_high": None,
        "k": None,
        "n": 4,
    }
    assert metrics["em,strict"]["stderr"] is None
    sample = {
        "doc_id": 7,
        "filter": "none",
        "arguments": [["Q?", " A"]],
        "resps": [["x"]],
        "filtered_resps": ["x"],
        "target": "A",
        "metrics": ["acc"],
        "acc": 1.0,
    }
    rows = detail_rows(lm_eval_samples({"t": [sample]}, len, 8))
    assert rows[0].items() >= {"problem_id": "7", "completion": "x", "correct": True}.items()
    assert (rows[0]["finish_reason"], rows[0]["num_tokens"]) == ("stop", None)  # not generated


def test_a_harness_response_that_reached_its_max_gen_toks_is_marked_cut_off() -> None:
    """lm-eval's per-sample max_gen_toks (else the model's) against the response's tokens;
    the rows have the keys of evallaunch's own benchmarks' rows."""
    from evallaunch.backends.base import Completion
    from evallaunch.backends.details import GradedSample

    def sample(doc_id: int, text: str, gen_kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "doc_id": doc_id,
            "filter": "strict",
            "arguments": [["Q?", gen_kwargs]],
            "resps": [[text]],
            "filtered_resps": [text[:1]],
            "target": "4",
            "metrics": ["exact_match"],
            "exact_match": 0.0,
        }

    words = len  # a tokenizer whose tokens are characters
    samples = [sample(0, "abcd", {"max_gen_toks": 4}), sample(1, "abc", {"max_gen_toks": 4})]
    samples.append(sample(2, "abcdef", {"until": ["\n"]}))  # the model's default, 6
    rows = detail_rows(lm_eval_samples({"t": samples}, words, 6))
    assert [(r["finish_reason"], r["truncated"], r["num_tokens"]) for r in rows] == [
        ("length", True, 4),
        ("stop", False, 3),
        ("length", True, 6),
    ]
    assert json.loads(rows[0]["metrics"]) == {"exact_match": 0.0} and rows[0]["correct"] is False
    ours = detail_rows([GradedSample(Completion("p", 0, "Q?", "x", "stop", 1), "4", True, "x")])
    assert list(rows[0]) == list(ours[0])


def prepare_task(tmp_path: Path, task: str, source: Path) -> Any:
    return run(
        *("-m", "evallaunch.cli", "prepare", "--task", task, "--source", str(source)),
        *("--data-dir", str(tmp_path / "mirror")),
        cwd=tmp_path,
        check=False,
        forked=True,
    )


def test_prepare_reads_gzipped_files_and_takes_a_lone_file_as_the_evaluated_split(
    tmp_path: Path,
) -> None:
    """HumanEval ships as one gzipped file, HumanEval.jsonl.gz: it becomes humaneval's test
    split, checked against the task's templates ({{prompt}}, {{test}}, {{entry_point}})."""
    source = tmp_path / "human-eval"
    source.mkdir()
    row = {"task_id": "HumanEval/0", "prompt": "def f():\n", "canonical_solution": "    pass\n"}
    row |= {"test": "def check(f):\n    pass\n", "entry_point": "f"}
    with gzip.open(source / "HumanEval.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(row) + "\n")
    proc = prepare_task(tmp_path, "humaneval", source)
    assert proc.returncode == 0, proc.stderr
    assert "HumanEval.jsonl.gz taken as split test" in proc.stdout
    mirrored = tmp_path / "mirror" / "harness" / "openai__openai_humaneval" / "default"
    assert [json.loads(line) for line in (mirrored / "test.jsonl").read_text().splitlines()] == [
        row
    ]
    assert json.loads((mirrored / "source.json").read_text())["renamed"] == {
        "HumanEval.jsonl.gz": "test"
    }


def test_prepare_checks_splits_and_fields_before_it_writes(
    tmp_path: Path, shared_datasets: Path
) -> None:
    """Files that do not fit the task are refused with what was found and what is needed,
    and nothing is left in the mirror, not even the partial directory."""
    train_only = tmp_path / "train_only"
    train_only.mkdir()
    shutil.copy(shared_datasets / "gsm8k" / "train.jsonl", train_only / "train.jsonl")
    shutil.copy(shared_datasets / "gsm8k" / "train.jsonl", train_only / "dev.jsonl")
    proc = prepare_task(tmp_path, "gsm8k", train_only)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "evaluates on split(s) test, and the directory holds dev, train" in proc.stderr
    assert "e.g. test.jsonl" in proc.stderr

    renamed = tmp_path / "renamed_fields"
    renamed.mkdir()
    rows = (shared_datasets / "gsm8k" / "test.jsonl").read_text().splitlines()[:2]
    (renamed / "test.json").write_text(
        json.dumps([{"q": json.loads(r)["question"], "a": "1"} for r in rows])
    )
    proc = prepare_task(tmp_path, "gsm8k", renamed)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert (
        "'question' is undefined" in proc.stderr and "the rows have the fields a, q" in proc.stderr
    )
    assert not (tmp_path / "mirror").exists() or not list((tmp_path / "mirror").rglob("*.jsonl"))
    assert not list(tmp_path.rglob("*.partial"))
