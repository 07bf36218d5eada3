"""Skipping what a team already published (`launch.published`): a sweep reads the results
table `collect` wrote (here local parquet files; on the Hub, hf://datasets/ORG/NAME) and
skips every job whose model, revision, step, benchmark, variant, backend and config
fingerprint are in it."""

from __future__ import annotations

import pandas as pd
import pytest

from evallaunch.collect.results_table import normalize
from evallaunch.errors import EvallaunchError
from evallaunch.launching.published import published_jobs, read_published
from tests.harness_jobs import run

TINY = ["benchmark.limit=1", "benchmark.n=1", "generation.max_new_tokens=8"]


def sweep_dry_run(tmp_path, shared_datasets, *args: str) -> str:
    """The jobs a Slurm sweep would submit (printed, nothing submitted)."""
    proc = run(
        *("-m", "evallaunch.evaluate", "--multirun", "cluster=slurm", "launch.dry_run=true"),
        f"paths.output_root={tmp_path / 'fresh_outputs'}",
        f"paths.data_dir={shared_datasets}",
        *TINY,
        *args,
        cwd=tmp_path,
    )
    return proc.stdout


@pytest.mark.slow
def test_a_sweep_skips_the_jobs_a_collected_table_already_has(tmp_path, shared_datasets) -> None:
    """A job run and collected elsewhere is skipped by a sweep in a fresh output root (its
    fingerprint at submit time equals the one collected); launch.force=true runs it; a table
    an older evallaunch wrote, without fingerprints, skips nothing and says so."""
    outputs = tmp_path / "elsewhere"
    run(
        *("-m", "evallaunch.evaluate", f"paths.output_root={outputs}"),
        *(f"paths.data_dir={shared_datasets}", "benchmark=math_500", *TINY),
        cwd=tmp_path,
    )
    run(
        *("-m", "evallaunch.cli", "collect", str(outputs), "--output", str(tmp_path / "c")),
        "--no-wandb",
        cwd=tmp_path,
    )
    table = tmp_path / "c" / "table.parquet"
    both = "benchmark=math_500,aime24"
    out = sweep_dry_run(tmp_path, shared_datasets, both, f"launch.published={table}")
    (skipped,) = [line for line in out.splitlines() if line.startswith("skip (")]
    assert f"already published in {table}" in skipped and "/math_500/" in skipped
    assert "aime24 lighteval" in out and "math_500 lighteval" not in out  # the job table

    forced = sweep_dry_run(
        tmp_path, shared_datasets, both, f"launch.published={table}", "launch.force=true"
    )
    assert "skip (" not in forced and "math_500 lighteval" in forced

    older = tmp_path / "older.parquet"
    pd.read_parquet(table).drop(columns=["config_fingerprint", "tokens_trained"]).to_parquet(older)
    out = sweep_dry_run(tmp_path, shared_datasets, both, f"launch.published={older}")
    assert "skip (" not in out and "has no config fingerprints" in out


def test_only_fingerprinted_job_rows_identify_published_jobs(tmp_path) -> None:
    row = {
        "model": "m", "revision": "main", "step": 500, "benchmark": "aime24",
        "metric": "pass@1", "variant": "n=64", "backend": "lighteval",
        "config_fingerprint": "abc",
    }  # fmt: skip
    table = normalize(
        pd.DataFrame(
            [
                row,
                {**row, "metric": "maj@64"},  # the same job's other metric
                {**row, "benchmark": "group:math"},  # a group is no job
                {**row, "benchmark": "math_500", "config_fingerprint": ""},  # older schema
            ]
        )
    )
    assert published_jobs(table) == {
        ("m", "main", 500, "aime24", "n=64", "lighteval", "abc"),
    }
    path = tmp_path / "table.csv"
    table.to_csv(path, index=False)
    assert published_jobs(read_published(str(path))) == published_jobs(table)


def test_a_published_table_that_cannot_be_read_says_where(tmp_path, monkeypatch) -> None:
    with pytest.raises(EvallaunchError, match="launch.published=.*nowhere.parquet is invalid"):
        read_published(str(tmp_path / "nowhere.parquet"))
    # huggingface_hub reads HF_HUB_OFFLINE once, when it is first imported (by now, maybe)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(EvallaunchError, match="hf://datasets/org/evals is invalid here"):
        read_published("hf://datasets/org/evals")
