"""launch.benchmarks_per_job: which benchmarks of a model run in one job, and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from evallaunch.errors import EvallaunchError
from evallaunch.launching import plan_arrays
from evallaunch.launching.specs import JobSpec
from evallaunch.planning.batching import Member, batches, check_per_job
from evallaunch.planning.plan_table import batching_lines
from evallaunch.planning.sweep_configs import describe_sweep

MODEL = "org--m@main"


def member(name: str, minutes: float, key: str = "m", shares: bool = True) -> Member:
    return Member(key, name, MODEL, gpus=8, estimated_min=minutes, start_min=5.0, shares=shares)


def test_auto_puts_a_models_benchmarks_in_one_job_and_says_what_it_saves() -> None:
    (batch,) = batches([member("aime24", 60), member("math_500", 30)], "auto", 240)
    assert batch.members == (0, 1)
    assert batch.reason == (
        f"one job for aime24, math_500 ({MODEL}): saves ~40 GPU-min of engine starts"
    )


def test_auto_splits_where_a_batch_would_exceed_the_time_limit() -> None:
    jobs = [member("aime24", 150), member("math_500", 60), member("gpqa", 100)]
    first, second = batches(jobs, "auto", 240)
    assert (first.members, second.members) == ((0, 1), (2,))
    assert second.reason == (
        f"gpqa starts another job: with aime24, math_500 ({MODEL}) it would exceed the "
        "4 h limit (~5 h estimated)"
    )


def test_auto_keeps_one_per_job_where_nothing_is_shared() -> None:
    no_servers = [member("a", 10, shares=False), member("b", 10, shares=False)]
    assert [(b.members, b.reason) for b in batches(no_servers, "auto", 240)] == [
        ((0,), ""),
        ((1,), ""),
    ]
    unplanned = [Member("m", "a", MODEL), Member("m", "b", MODEL)]  # no GPU plan
    assert [b.members for b in batches(unplanned, "auto", None)] == [(0,), (1,)]
    other_models = [member("a", 10, key="x"), member("b", 10, key="y")]
    assert [b.members for b in batches(other_models, "auto", 240)] == [(0,), (1,)]


def test_an_explicit_number_is_kept_whatever_the_limit() -> None:
    jobs = [member("a", 200), member("b", 200), member("c", 200)]
    chosen = batches(jobs, 2, 240)
    assert [b.members for b in chosen] == [(0, 1), (2,)]
    assert chosen[0].reason.endswith("launch.benchmarks_per_job=2")


@pytest.mark.parametrize("value", [0, -1, "often", True, 1.5])
def test_benchmarks_per_job_is_auto_or_a_positive_number(value: object) -> None:
    with pytest.raises(EvallaunchError, match=r"launch.benchmarks_per_job=.* is invalid.*auto"):
        check_per_job(value)


def spec(index: int, name: str, timeout: int, estimated: float) -> JobSpec:
    cfg = OmegaConf.create(
        {
            "model": {"name": "m", "version": "main", "name_or_path": "m", "revision": "main"},
            "benchmark": {"name": name},
            "backend": {"name": "lighteval"},
        }
    )
    resources = {"gpus_per_node": 8, "nodes": 1, "timeout_min": timeout}
    job = JobSpec(index, [], cfg, Path(f"/j/{name}"), "f", resources)
    job.member = Member(job.batch_key, name, MODEL, 8, estimated, 5.0, True)
    return job


def test_the_launcher_batches_with_a_time_limit_of_at_most_the_clusters() -> None:
    specs = [spec(0, "aime24", 150, 100), spec(1, "math_500", 120, 80), spec(2, "gpqa", 90, 100)]
    arrays, reasons = plan_arrays.group(specs, "auto", 240)
    shapes = {
        dict(shape)["timeout_min"]: [[s.index for s in b] for b in batches_]
        for shape, batches_ in arrays.items()
    }
    assert shapes == {240: [[0, 1]], 90: [[2]]}  # 150 + 120 capped at the limit
    assert reasons[0].startswith("one job for aime24, math_500")
    assert "gpqa starts another job" in reasons[1]
    arrays, _ = plan_arrays.group(specs, 3, 240)  # the user's choice: time limits added up
    assert [dict(shape)["timeout_min"] for shape in arrays] == [360]


SWEEP = [
    "cluster=slurm_h100_example",
    "parallelism=auto",
    "model=r1_distill_llama_70b",
    "benchmark=aime24,math_500,gpqa_diamond",
    "backend.model_type=vllm",
]


def test_the_plan_says_which_benchmarks_share_a_job_and_why() -> None:
    roomy = describe_sweep([*SWEEP, "hydra.launcher.timeout_min=720"], multirun=True)
    lines = batching_lines([job.batching for job in roomy])
    assert len(lines) == 1 and lines[0].startswith(
        "jobs: one job for aime24, math_500, gpqa_diamond "
        "(deepseek-ai--DeepSeek-R1-Distill-Llama-70B@main): saves ~"
    )
    tight = describe_sweep([*SWEEP, "hydra.launcher.timeout_min=400"], multirun=True)
    lines = batching_lines([job.batching for job in tight])
    assert lines[0].startswith("jobs: one job for aime24, math_500 ")
    assert lines[1].startswith("jobs: gpqa_diamond starts another job: with aime24, math_500")
    assert "exceed the 400 min limit" in lines[1]
    explicit = describe_sweep([*SWEEP, "launch.benchmarks_per_job=1"], multirun=True)
    assert [job.batching for job in explicit] == ["", "", ""]
    # transformers loads its model in each job: nothing to share, nothing said.
    in_process = describe_sweep([*SWEEP[:-1], "backend.model_type=transformers"], multirun=True)
    assert [job.batching for job in in_process] == ["", "", ""]


def test_a_batchs_jobs_run_at_once_only_on_the_very_same_servers() -> None:
    """Jobs of a batch that differ only in their benchmark (and what does not reach the
    servers) run at once on the first one's servers; any difference in what the servers run
    (model, backend, engine settings, seed) keeps a job for later, on servers of its own."""
    from evallaunch.config.compose import compose_config
    from evallaunch.launching.batch_members import same_servers

    base = ["paths.data_dir=x", "backend=lmeval", "backend.model_type=vllm"]
    first = compose_config([*base, "benchmark=math_500"])
    assert same_servers(first, compose_config([*base, "benchmark=aime24", "benchmark.n=8"]))
    assert same_servers(first, compose_config([*base, "generation.max_new_tokens=512"]))
    for differs in ("parallelism.max_num_seqs=4", "generation.seed=7", "backend=lighteval"):
        assert not same_servers(first, compose_config([*base, differs])), differs
