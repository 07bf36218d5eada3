"""Any lighteval task by name (`benchmark=harness benchmark.task=... backend=lighteval`),
offline from the mirror: lighteval's own task configs, imported from their modules only
(its full registry reaches the network at import), run by its pipeline.

lighteval's own CLI cannot run here to compare against: its registry imports every task
module, and `tiny_benchmarks` fetches from GitHub at import. So each metric is checked
against what the per-sample details imply, and each detail against lighteval's own metric
recomputed on the stored response."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evallaunch.errors import EvallaunchError
from evallaunch.harness.generation import gen_parameters
from evallaunch.harness.lighteval.results import task_metrics
from evallaunch.harness.lighteval.tasks import with_supersets
from evallaunch.job.results import validate_results
from tests.harness_jobs import evaluate, mean_by, run
from tests.helpers import REPO, engine_kept_max_new_tokens, harness_completion_tokens

CUSTOM_TASKS = REPO / "tests" / "data" / "lighteval_tasks" / "el_light.py"
SMALL = ["backend=lighteval", "backend.batch_size=4", "benchmark.limit=3"]


def job_dir(tmp_path: Path, task: str) -> Path:
    model = tmp_path / "outputs" / "default" / "smollm2-135m-instruct" / "main"
    return model / task / "lighteval"


def lighteval_s_own_results(out: Path) -> dict[str, dict[str, float]]:
    """The results file lighteval's EvaluationTracker wrote for the job."""
    (found,) = (out / "backend" / "results").rglob("results_*.json")
    return dict(json.loads(found.read_text())["results"])


@pytest.mark.slow
def test_lighteval_s_own_gsm8k_runs_offline_from_the_mirror(tmp_path: Path, mirror: Path) -> None:
    """lighteval's built-in gsm8k (its prompt, a few-shot example from train, its
    expression-matching metric) on the embedded model, its data read from the mirror: the
    metric is what the details imply and what lighteval wrote, and each detail's grade is
    lighteval's metric on the stored response."""
    from lighteval.metrics.metrics import Metrics
    from lighteval.models.model_output import ModelResponse
    from lighteval.tasks.requests import Doc

    evaluate(
        tmp_path,
        mirror,
        *SMALL,
        "benchmark.task=gsm8k",
        "benchmark.num_fewshot=1",
        "generation.max_new_tokens=48",  # reaches lighteval as its max_new_tokens
    )
    out = job_dir(tmp_path, "gsm8k")
    results = json.loads((out / "results.json").read_text())
    assert validate_results(results) == []
    assert results["generation"]["gen_kwargs"] == "max_new_tokens=48"
    assert max(harness_completion_tokens(out)) <= 48
    assert engine_kept_max_new_tokens(out, 48)["truncated"].any()  # 48 tokens cut gsm8k
    assert results["benchmark"]["harness"] == "lighteval"
    details = pd.read_parquet(out / "details.parquet")
    assert len(details) == 3
    metric = results["metrics"]["extractive_match"]
    assert metric["value"] == mean_by(details, "gsm8k", "extractive_match", "none")
    assert metric["value"] == lighteval_s_own_results(out)["gsm8k|1"]["extractive_match"]
    assert metric["n"] == 3
    expr_gold: Any = Metrics.expr_gold_metric  # an Enum member: its value is the metric
    for row in details.itertuples():
        doc = Doc(query=row.prompt, choices=[row.gold], gold_index=0)
        graded = expr_gold.value.compute_sample(
            doc=doc, model_response=ModelResponse(text=[row.completion])
        )
        assert graded == json.loads(row.metrics)
    gsm8k = results["tasks"]["gsm8k"]
    assert (gsm8k["num_fewshot"], gsm8k["version"]) == (1, 0)
    assert set(results["benchmark"]["data_sha256"]) == {
        "openai/gsm8k:main:test",
        "openai/gsm8k:main:train",
    }
    # the few-shot example comes from the mirrored train split (its worked answer)
    assert details["prompt"].str.contains("####").all()


@pytest.mark.slow
def test_a_custom_tasks_module_s_superset_averages_its_tasks(tmp_path: Path, mirror: Path) -> None:
    """The user's own lighteval tasks (`benchmark.custom_tasks`): two multiple-choice tasks
    on local files, run by their superset's name; the superset's score is lighteval's
    average of the two, each task's what its details imply."""
    evaluate(
        tmp_path,
        mirror,
        *SMALL,
        "benchmark.limit=null",
        "benchmark.task=el_light",
        f"benchmark.custom_tasks={CUSTOM_TASKS}",
    )
    out = job_dir(tmp_path, "el_light")
    results = json.loads((out / "results.json").read_text())
    details = pd.read_parquet(out / "details.parquet")
    assert sorted(results["tasks"]) == ["el_light", "el_light:bare", "el_light:qa"]
    scores = []
    for task in ("el_light:bare", "el_light:qa"):
        value = results["tasks"][task]["metrics"]["acc"]["value"]
        assert value == mean_by(details, task, "acc", "none")
        scores.append(value)
    assert results["metrics"]["acc"]["value"] == pytest.approx(sum(scores) / 2)
    assert results["tasks"]["el_light"]["subtasks"] == ["el_light:bare", "el_light:qa"]
    # the completion of a multiple-choice row is each choice's log-probability
    assert len(json.loads(details["completion"].iloc[0])) == 4


def test_bad_lighteval_tasks_fail_before_any_model_loads(tmp_path: Path, mirror: Path) -> None:
    """A task only lm-eval defines names backend=lmeval, and the other way round; a
    lighteval name that does not exist names the closest ones."""
    cases = {
        ("backend=lighteval", "benchmark.task=gsm8k_cot"): "backend=lmeval",
        ("backend=lmeval", "benchmark.task=arc:easy"): "backend=lighteval",
        ("backend=lighteval", "benchmark.task=gsm8kk"): "closest: gsm8k",
    }
    for overrides, expected in cases.items():
        proc = evaluate(tmp_path, mirror, *overrides, check=False, forked=True)
        assert proc.returncode != 0 and expected in proc.stderr, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
    assert list(tmp_path.rglob("results.json")) == []


def test_tasks_lists_lighteval_s_names_and_the_user_s_own(tmp_path: Path, mirror: Path) -> None:
    """A substring matches lighteval's names (gsm8k, the group mgsm) and the user's own
    (el_light:qa, from local files), with the data the mirror holds for each."""
    out = run(
        *("-m", "evallaunch.cli", "tasks", "g", "--backend", "lighteval"),
        *("--data-dir", str(mirror), "--custom-tasks", str(CUSTOM_TASKS)),
        cwd=tmp_path,
        forked=True,
    ).stdout
    lines = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert lines["gsm8k"].endswith("1/1 dataset(s)")
    assert lines["mgsm"].split()[1:3] == ["group", "11"]
    assert lines["el_light:qa"].endswith("local files")
    assert "of lighteval's" in out.splitlines()[-1] and "match '*g*'" in out.splitlines()[-1]
    assert all("g" in name for name in lines)


def test_lighteval_s_superset_average_becomes_the_group_s_metrics() -> None:
    """lighteval's results keys ("task:shots", "superset:_average|shots") become task names;
    each metric carries its stderr and the number of documents behind it."""
    results = {
        "mmlu:a:0": {"acc": 0.5, "acc_stderr": 0.1},
        "mmlu:b:0": {"acc": 1.0, "acc_stderr": 0.0},
        "mmlu:_average|0": {"acc": 0.75, "acc_stderr": 0.05},
        "all": {"acc": 0.75},
    }
    details = {"mmlu:a": [object()] * 2, "mmlu:b": [object()] * 4}
    metrics = task_metrics(results, details, "mmlu")
    assert sorted(metrics) == ["mmlu", "mmlu:a", "mmlu:b"]
    assert metrics["mmlu:a"]["acc"] | {"name": "acc"} == {
        "name": "acc",
        "value": 0.5,
        "stderr": 0.1,
        "ci_low": None,
        "ci_high": None,
        "k": None,
        "n": 2,
    }
    assert (metrics["mmlu"]["acc"]["value"], metrics["mmlu"]["acc"]["n"]) == (0.75, 6)


def test_supersets_are_the_groups_of_prefixed_task_names() -> None:
    records = [{"name": n} for n in ("mmlu:a", "mmlu:b", "gsm8k", "solo:one", "arc", "arc:x")]
    groups = {r["name"]: r["members"] for r in with_supersets(records) if r.get("kind") == "group"}
    # "solo" has one task; "arc" is a task itself, as in lighteval (no superset of it)
    assert groups == {"mmlu": ["mmlu:a", "mmlu:b"]}


def test_generation_settings_are_lighteval_s_and_greedy_by_default() -> None:
    assert gen_parameters(None) == {"temperature": 0.0, "top_p": 1.0}
    assert gen_parameters("temperature=0.6,max_new_tokens=512") == {
        "temperature": 0.6,
        "top_p": 1.0,
        "max_new_tokens": 512,
    }
    with pytest.raises(EvallaunchError, match="max_gen_toks=8.*is invalid for lighteval"):
        gen_parameters("max_gen_toks=8")
