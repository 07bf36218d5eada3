"""Real evaluations of the embedded model through both backends, offline, on MATH-500."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evallaunch.job.results import DETAIL_COLUMNS, validate_results
from evallaunch.scoring.registry import score_batch
from tests.conftest import TINY, Evaluate

pytestmark = pytest.mark.slow


def job_dir(root: Path, benchmark: str = "math_500", backend: str = "lighteval") -> Path:
    return root / "outputs" / "default" / "smollm2-135m-instruct" / "main" / benchmark / backend


def check_job(directory: Path) -> dict:
    """results.json is valid and its metrics are what the details parquet implies."""
    results = json.loads((directory / "results.json").read_text())
    assert validate_results(results) == []
    assert json.loads((directory / "status.json").read_text())["status"] == "completed"
    details = pd.read_parquet(directory / "details.parquet")
    assert list(details.columns) == list(DETAIL_COLUMNS)
    assert len(details) == results["num_problems"] * results["num_samples"]
    per_problem = details.groupby("problem_id", sort=False)["correct"].mean()
    assert results["metrics"]["pass@1"]["value"] == pytest.approx(per_problem.mean())
    assert 0.0 <= results["metrics"]["pass@1"]["value"] <= 1.0
    assert results["num_truncated"] == int(details["truncated"].sum())
    assert not details["correct"][details["truncated"]].any(), "cut-off answers count as wrong"
    assert (directory / "config.yaml").is_file() and (directory / "evaluate.log").is_file()
    return results


@pytest.mark.parametrize("backend", ["lighteval", "lmeval"])
def test_real_run_on_math_500(evaluate: Evaluate, tmp_path: Path, backend: str) -> None:
    proc = evaluate(f"backend={backend}", *TINY)
    directory = job_dir(tmp_path, backend=backend)
    results = check_job(directory)
    assert results["backend"]["name"] == backend
    assert results["num_problems"] == 3
    assert results["model"]["device"] == "cpu" and results["model"]["dtype"] == "float32"
    assert results["packages"]["evallaunch"]
    # The backend scored the same completions with evallaunch's scorer.
    assert set(results["backend_metrics"]) == {"pass@1"}
    assert "pass@1" in proc.stdout  # the results table is printed
    details = pd.read_parquet(directory / "details.parquet")
    first_ids = [json.loads(line)["unique_id"] for line in _first_lines(3)]
    assert list(details["problem_id"]) == first_ids  # limit takes the first problems
    assert details["prompt"].str.contains("Please reason step by step").all()
    assert (directory / "backend").is_dir()  # the backend's raw output is kept
    # The terminal shows evallaunch's progress and results; the harness logs to the file.
    harness = "lighteval." if backend == "lighteval" else "lm_eval."
    terminal = proc.stdout + proc.stderr
    assert "Unit b0000-" in terminal and "samples, " in terminal and "left" in terminal
    assert f"[{harness}" not in terminal and "it/s]" not in terminal
    assert f"[{harness}" in (directory / "evaluate.log").read_text()


def test_verbose_shows_the_harness_logging(evaluate: Evaluate, tmp_path: Path) -> None:
    proc = evaluate(
        "backend=lmeval",
        "verbose=true",
        "benchmark.limit=1",
        "benchmark.n=1",
        "generation.max_new_tokens=8",
    )
    assert "[lm_eval." in proc.stdout + proc.stderr


def _first_lines(count: int) -> list[str]:
    path = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "math500.jsonl"
    return path.read_text().splitlines()[:count]


def test_multirun_makes_one_job_dir_per_benchmark(evaluate: Evaluate, tmp_path: Path) -> None:
    evaluate(
        "--multirun",
        "benchmark=math_500,aime24",
        "benchmark.limit=1",
        "benchmark.n=1",
        "generation.max_new_tokens=16",
    )
    for benchmark in ("math_500", "aime24"):
        results = check_job(job_dir(tmp_path, benchmark=benchmark))
        assert results["benchmark"]["name"] == benchmark


def test_rerun_keeps_the_previous_results(evaluate: Evaluate, tmp_path: Path) -> None:
    args = ("benchmark.limit=1", "benchmark.n=1", "generation.max_new_tokens=8")
    evaluate(*args)
    directory = job_dir(tmp_path)
    first = json.loads((directory / "results.json").read_text())
    evaluate(*args, "generation.seed=7")
    second = json.loads((directory / "results.json").read_text())
    assert second["seed"] == 7 and first["seed"] == 1234
    assert second["config_fingerprint"] != first["config_fingerprint"]
    archived = list((directory / "history").glob("*/results.json"))
    assert [json.loads(p.read_text())["seed"] for p in archived] == [1234]


SUITE = ["math_500", "aime24", "gpqa_diamond", "lcb_codegen"]


@pytest.mark.parametrize("backend", ["lighteval", "lmeval"])
@pytest.mark.parametrize("benchmark", SUITE)
def test_suite_with_two_samples(
    evaluate: Evaluate, tmp_path: Path, benchmark: str, backend: str
) -> None:
    """Every benchmark runs on both backends; n=2 really draws two different samples, and
    the backend's own pass@1 equals evallaunch's scoring of the same completions."""
    evaluate(
        f"benchmark={benchmark}",
        f"backend={backend}",
        "benchmark.limit=2",
        "benchmark.n=2",
        "generation.max_new_tokens=24",
        "generation.temperature=1.0",
    )
    directory = job_dir(tmp_path, benchmark=benchmark, backend=backend)
    results = check_job(directory)
    assert results["num_samples"] == 2 and "pass@2" in results["metrics"]
    details = pd.read_parquet(directory / "details.parquet")
    for _, samples in details.groupby("problem_id"):
        assert samples["completion"].nunique() == 2, "n=2 returned the same sample twice"
    rescored = score_batch(
        results["benchmark"]["scorer"], list(details["completion"]), list(details["gold"])
    )
    backend_view = sum(s.correct for s in rescored) / len(rescored)  # no truncation rule
    assert results["backend_metrics"]["pass@1"] == pytest.approx(backend_view, abs=1e-3)


def test_lighteval_padding_after_the_end_is_not_counted() -> None:
    """lighteval's transformers model pads a batch's shorter samples with the end token, as
    tensors of ids: a sample that ended early is not a cut-off one."""
    from types import SimpleNamespace

    import torch

    from evallaunch.backends.lighteval_backend import _completions
    from tests.test_engines import request_for

    request = request_for(Path("/tmp"), 1)  # max_new_tokens=8
    ended = torch.tensor([5, 6, 7, 2, 2, 2, 2, 2])
    detail = SimpleNamespace(
        model_response=SimpleNamespace(text=["five six seven"], output_tokens=[ended]),
        doc=SimpleNamespace(specific={"id": "p0"}),
    )
    (completion,) = _completions(detail, "prompt", {2}, request)
    assert completion.num_tokens == 3 and completion.finish_reason == "stop"
