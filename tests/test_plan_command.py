"""`evallaunch plan`: every job of a sweep planned on its cluster, nothing launched."""

from __future__ import annotations

import os
import subprocess
import sys

from evallaunch.compose import compose_config
from evallaunch.planning.job_plan import plan_for_config
from evallaunch.planning.sweep_configs import expand_sweep, hardware_of, plan_sweep

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
