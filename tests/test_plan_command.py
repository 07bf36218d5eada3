"""`evallaunch plan`: every job of a sweep planned on its cluster, nothing launched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from evallaunch.benchmarks.problem import Problem
from evallaunch.compose import compose_config
from evallaunch.job.engines import estimated_hours
from evallaunch.job.summary import run_plan_lines
from evallaunch.planning.job_plan import plan_for_config
from evallaunch.planning.sweep_configs import expand_sweep, hardware_of, plan_sweep
from tests.helpers import make_request

SWEEP = [
    "cluster=slurm_h100_example",
    "parallelism=auto",
    "model=r1_distill_qwen_1_5b,r1_distill_llama_70b",
    "benchmark=aime24,math_500",
]


def test_plan_prints_every_job_and_the_gpu_hours() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "evallaunch.cli", "plan", "--multirun", *SWEEP],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum("DeepSeek-R1-Distill" in line for line in lines) == 4
    assert lines[-1].startswith("total GPU-hours: ")


def test_fast_sweep_composition_matches_hydra_compose() -> None:
    sweep = [
        "cluster=slurm_h100_example",
        "parallelism=auto",
        "model.name_or_path=/ckpt/qwen-7B/checkpoint-100,/ckpt/llama-70B/checkpoint-2000",
        "model.tokens_per_step=1000",
        "benchmark=aime24,math_500",
        "benchmark.n=8,16",
    ]
    fast = plan_sweep(sweep, multirun=True)
    jobs = expand_sweep(sweep)
    assert len(fast) == len(jobs) == 8
    for (label, plan), job in zip(fast, jobs, strict=True):
        cfg = compose_config(job, return_hydra_config=True)
        assert label == f"{cfg.model.name}@{cfg.model.version} {cfg.benchmark.name}"
        assert plan == plan_for_config(cfg, hardware_of(cfg))


def test_a_job_says_what_it_will_generate_and_warns_a_smoke_run_of_many_samples(
    tmp_path: Path,
) -> None:
    """Before the model loads: problems x samples, the token budget and the engine; a run
    limited to a few problems that still draws AIME's 64 samples each is warned of."""
    problems = [Problem(f"p{i}", "q", "1") for i in range(2)]
    cfg = compose_config(["benchmark=aime24", "benchmark.limit=2", "paths.data_dir=x"])
    request = make_request(tmp_path, problems=problems, n=64, max_new_tokens=512)
    lines = run_plan_lines(cfg, request)
    assert lines[0] == (
        "info",
        "About to generate 2 problems x 64 samples = 128 completions of at most 512 tokens, "
        "with lighteval (transformers on cpu, float32); no estimate before the first samples, "
        "then the time left is logged as samples finish",
    )
    assert estimated_hours(cfg, "cpu") is None  # the planner models GPUs only
    on_gpus = run_plan_lines(cfg, request, estimated_hours=0.34)[0][1]  # the plan's, on GPUs
    assert on_gpus.endswith(
        "the plan estimates about 0.34 h, then the time left is logged as samples finish"
    )
    assert lines[1][0] == "warning"
    assert "benchmark.limit=2 still draws benchmark.n=64" in lines[1][1]
    assert "add benchmark.n=1" in lines[1][1]
    quick = compose_config(["benchmark=aime24", "benchmark.limit=2", "benchmark.n=1"])
    assert len(run_plan_lines(quick, make_request(tmp_path, problems=problems))) == 1
