"""Real evaluations of the embedded model through both backends, offline: every benchmark's
own data, and the tiny mirror of questions the model answers (tests/tiny_mirror.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from evallaunch.job.results import DETAIL_COLUMNS, validate_results
from evallaunch.scoring.registry import score_batch
from tests.helpers import Evaluate, engine_kept_max_new_tokens, job_dir, make_request
from tests.tiny_mirror import TINY_MIRROR, write_tiny_mirror

pytestmark = pytest.mark.slow


@dataclass
class Sweep:
    """A sweep's output root and what it printed."""

    root: Path
    terminal: str


def run_evaluate(
    root: Path, data: Path, *args: str, umask: int = 0o022
) -> subprocess.CompletedProcess[str]:
    """`python -m evallaunch.evaluate ARGS` writing under root/outputs, under `umask`; it
    must succeed."""
    command = [
        sys.executable,
        "-m",
        "evallaunch.evaluate",
        f"paths.output_root={root / 'outputs'}",
        f"paths.data_dir={data}",
        *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env, umask=umask)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


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
    engine_kept_max_new_tokens(directory)
    assert not details["correct"][details["truncated"]].any(), "cut-off answers count as wrong"
    assert (directory / "config.yaml").is_file() and (directory / "evaluate.log").is_file()
    return results


SUITE = ["math_500", "aime24", "gpqa_diamond", "lcb_codegen"]
BACKENDS = ["lighteval", "lmeval"]
EVERY_JOB = [(benchmark, backend) for benchmark in SUITE for backend in BACKENDS]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Sweep:
    """One multirun of every benchmark on both backends, 2 problems x 2 samples each (the
    jobs run one after another in one process, as a user's sweep does). Its 8 jobs take
    over a minute; every test of the real benchmarks here reads them."""
    root = tmp_path_factory.mktemp("sweep")
    proc = run_evaluate(
        root,
        shared_datasets,
        "--multirun",
        f"benchmark={','.join(SUITE)}",
        f"backend={','.join(BACKENDS)}",
        "benchmark.limit=2",
        "benchmark.n=2",
        "generation.max_new_tokens=24",
        "generation.temperature=1.0",
        umask=0o077,  # a private run (the tiny mirror's is a team's, umask 022)
    )
    return Sweep(root, proc.stdout + proc.stderr)


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_run_on_math_500(sweep: Sweep, backend: str) -> None:
    directory = job_dir(sweep.root / "outputs", backend=backend)
    results = check_job(directory)
    assert results["backend"]["name"] == backend
    assert results["num_problems"] == 2
    assert results["num_truncated"] > 0  # 24 tokens cut answers off, and they say so
    assert results["model"]["device"] == "cpu" and results["model"]["dtype"] == "float32"
    assert results["packages"]["evallaunch"]
    # The backend scored the same completions with evallaunch's scorer.
    assert set(results["backend_metrics"]) == {"pass@1"}
    assert "pass@1" in sweep.terminal  # the results table is printed
    details = pd.read_parquet(directory / "details.parquet")
    first_ids = [json.loads(line)["unique_id"] for line in _first_lines(2)]
    assert list(details["problem_id"].unique()) == first_ids  # limit takes the first problems
    assert details["prompt"].str.contains("Please reason step by step").all()
    assert (directory / "backend").is_dir()  # the backend's raw output is kept
    # The terminal shows evallaunch's progress and results; the harness logs to the file.
    harness = "lighteval." if backend == "lighteval" else "lm_eval."
    assert "Unit b0000-" in sweep.terminal and "samples, " in sweep.terminal
    assert "left" in sweep.terminal
    assert f"[{harness}" not in sweep.terminal and "it/s]" not in sweep.terminal
    assert f"[{harness}" in (directory / "evaluate.log").read_text()


def _first_lines(count: int) -> list[str]:
    path = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "math500.jsonl"
    return path.read_text().splitlines()[:count]


def test_multirun_makes_one_job_dir_per_benchmark(sweep: Sweep) -> None:
    for benchmark, backend in EVERY_JOB:
        results = check_job(job_dir(sweep.root / "outputs", benchmark=benchmark, backend=backend))
        assert results["benchmark"]["name"] == benchmark
        assert results["backend"]["name"] == backend


@pytest.mark.parametrize(("benchmark", "backend"), EVERY_JOB)
def test_n_samples_are_n_different_samples(sweep: Sweep, benchmark: str, backend: str) -> None:
    """Every benchmark runs on both backends; n=2 really draws two different samples."""
    directory = job_dir(sweep.root / "outputs", benchmark=benchmark, backend=backend)
    results = check_job(directory)
    assert results["num_samples"] == 2 and "pass@2" in results["metrics"]
    details = pd.read_parquet(directory / "details.parquet")
    for _, samples in details.groupby("problem_id"):
        assert samples["completion"].nunique() == 2, "n=2 returned the same sample twice"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    """Every benchmark's config on both backends over the tiny mirror (tests/tiny_mirror.py),
    greedy: questions the embedded model answers and questions it does not. With verbose=true
    the harnesses' own logging reaches the terminal. Its 8 jobs take over a minute; every
    metric-agreement test reads them."""
    root = tmp_path_factory.mktemp("tiny")
    proc = run_evaluate(
        root,
        write_tiny_mirror(root / "mirror"),
        "--multirun",
        f"benchmark={','.join(SUITE)}",
        f"backend={','.join(BACKENDS)}",
        *TINY_MIRROR,
        "benchmark.n=1",
        "generation.temperature=0",
        "generation.max_new_tokens=40",
        "verbose=true",
    )
    return Sweep(root, proc.stdout + proc.stderr)


@pytest.mark.parametrize(("benchmark", "backend"), EVERY_JOB)
def test_the_backend_s_own_pass_at_1_is_evallaunch_s_grading(
    tiny: Sweep, benchmark: str, backend: str
) -> None:
    """The backend's own pass@1 equals evallaunch's scoring of the same completions (the
    harness does not apply evallaunch's rule that a cut-off completion is wrong), on
    completions of which some are right and some wrong, so that a scoring broken on either
    side (all wrong, all right, another sample's gold) shows."""
    directory = job_dir(tiny.root / "outputs", benchmark=benchmark, backend=backend)
    results = check_job(directory)
    details = pd.read_parquet(directory / "details.parquet")
    assert details["correct"].any() and not details["correct"].all(), details["completion"]
    rescored = score_batch(
        results["benchmark"]["scorer"], list(details["completion"]), list(details["gold"])
    )
    # evallaunch recorded each sample's grade: the scorer's, and wrong when cut off.
    graded = [s.correct and not cut for s, cut in zip(rescored, details["truncated"], strict=True)]
    assert list(details["correct"]) == graded
    backend_view = sum(s.correct for s in rescored) / len(rescored)  # no truncation rule
    assert 0 < backend_view < 1 and backend_view != 0.5
    assert results["backend_metrics"]["pass@1"] == pytest.approx(backend_view, abs=1e-3)


@pytest.mark.parametrize(("run", "umask"), [("tiny", 0o022), ("sweep", 0o077)], ids=["022", "077"])
def test_every_file_a_run_writes_has_the_mode_its_umask_gives(
    run: str, umask: int, request: pytest.FixtureRequest
) -> None:
    """As `open()` and `mkdir()` would: a team's outputs tree is group-readable under umask
    022 (results, details, ledgers, status, logs, the harnesses' raw outputs), a private
    one is not readable by others under 077."""
    outputs = request.getfixturevalue(run).root / "outputs"
    written = list(outputs.rglob("*"))
    assert any(p.name == "results.json" for p in written) and len(written) > 50
    wrong = {
        str(p.relative_to(outputs)): oct(p.stat().st_mode & 0o777)
        for p in written
        if p.stat().st_mode & 0o777 != (0o777 if p.is_dir() else 0o666) & ~umask
    }
    assert wrong == {}


def test_verbose_shows_the_harness_logging(tiny: Sweep) -> None:
    assert "[lm_eval." in tiny.terminal and "[lighteval." in tiny.terminal


def test_the_results_show_the_first_answers_beside_the_gold_ones(tiny: Sweep) -> None:
    """After the metrics, each job prints its first problems' extracted answers next to
    the gold ones (what the pipeline did, even when the model gets nothing right), and a run
    of the embedded model says it is a plumbing check."""
    details = pd.read_parquet(job_dir(tiny.root / "outputs", backend="lmeval") / "details.parquet")
    lines = tiny.terminal.splitlines()
    for row in details[details["sample_index"] == 0].head(5).itertuples():
        answer = "(none found)" if pd.isna(row.extracted_answer) else row.extracted_answer
        start = f"{row.problem_id:<30} {row.gold:<16} {str(answer)[:10]}"
        grade = " yes" if row.correct else " no"
        assert any(line.startswith(start) and line.endswith(grade) for line in lines), start
    assert "The embedded 135M model is a plumbing check" in tiny.terminal


def test_each_job_says_what_it_will_generate_before_the_model_loads(tiny: Sweep) -> None:
    for backend in BACKENDS:
        said = f"completions of at most 40 tokens, with {backend} (transformers on cpu, float32)"
        assert said in tiny.terminal
    assert tiny.terminal.index("About to generate") < tiny.terminal.index("Samples: ")


def test_rerun_keeps_the_previous_results(evaluate: Evaluate, tmp_path: Path) -> None:
    args = ("benchmark.limit=1", "benchmark.n=1", "generation.max_new_tokens=8")
    evaluate(*args)
    directory = job_dir(tmp_path / "outputs")
    first = json.loads((directory / "results.json").read_text())
    evaluate(*args, "generation.seed=7")
    second = json.loads((directory / "results.json").read_text())
    assert second["seed"] == 7 and first["seed"] == 1234
    assert second["config_fingerprint"] != first["config_fingerprint"]
    archived = list((directory / "history").glob("*/results.json"))
    assert [json.loads(p.read_text())["seed"] for p in archived] == [1234]


def test_lighteval_padding_after_the_end_is_not_counted() -> None:
    """lighteval's transformers model pads a batch's shorter samples with the end token, as
    tensors of ids: a sample that ended early is not a cut-off one."""
    from types import SimpleNamespace

    import torch

    from evallaunch.backends.lighteval_backend import _completions

    request = make_request(Path("/tmp"))  # max_new_tokens=8
    ended = torch.tensor([5, 6, 7, 2, 2, 2, 2, 2])
    detail = SimpleNamespace(
        model_response=SimpleNamespace(text=["five six seven"], output_tokens=[ended]),
        doc=SimpleNamespace(specific={"id": "p0"}),
    )
    (completion,) = _completions(detail, "prompt", {2}, request)
    assert completion.num_tokens == 3 and completion.finish_reason == "stop"


def test_the_python_api_reads_a_sweep_as_the_commands_do(
    sweep: Sweep, shared_datasets: Path
) -> None:
    """evallaunch.api, as a notebook uses it: a job that already finished with this very
    config is returned, not run again; status, collect and diff read the sweep."""
    from evallaunch import api

    outputs = sweep.root / "outputs"
    directory = job_dir(outputs, backend="lmeval")
    written = json.loads((directory / "results.json").read_text())
    args = [f"paths.output_root={outputs}", f"paths.data_dir={shared_datasets}"]
    args += ["backend=lmeval", "benchmark.limit=2", "benchmark.n=2"]
    args += ["generation.max_new_tokens=24", "generation.temperature=1.0"]
    assert api.evaluate(args) == written  # the same fingerprint: nothing ran
    rows = api.status(outputs)
    assert len(rows) == len(EVERY_JOB) and {row["state"] for row in rows} == {"completed"}
    table = api.collect([outputs]).table
    assert set(table["job_dir"]) - {""} == {  # "": rows of metrics over several jobs
        str(job_dir(outputs, benchmark, backend)) for benchmark, backend in EVERY_JOB
    }
    differences = dict((key, (a, b)) for key, a, b in api.diff(job_dir(outputs), directory))
    assert differences["backend.name"] == ("lighteval", "lmeval")
