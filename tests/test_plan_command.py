"""`evallaunch plan`: every job of a sweep planned on its cluster, nothing launched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evallaunch.benchmarks.problem import Problem
from evallaunch.config.compose import compose_config
from evallaunch.config.spec import job_spec
from evallaunch.engines.settings import engine_settings
from evallaunch.errors import EvallaunchError
from evallaunch.job.summary import run_plan_lines
from evallaunch.launching.specs import apply_plan
from evallaunch.planning import format_plan_table, load_model_facts
from evallaunch.planning.job_plan import plan_for_config
from evallaunch.planning.local_gpus import estimated_hours
from evallaunch.planning.sweep_configs import describe_sweep, expand_sweep, hardware_of, plan_sweep
from tests.helpers import compose_spec, make_request

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
    total = next(i for i, line in enumerate(lines) if line.startswith("total GPU-hours: "))
    assert sum("DeepSeek-R1-Distill" in line for line in lines[:total]) == 4  # a row each
    assert sum(line.startswith("  engine: ") for line in lines[total:]) == 4  # and its engine


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
        assert plan == plan_for_config(job_spec(cfg), hardware_of(cfg))


def test_a_job_says_what_it_will_generate_and_warns_a_smoke_run_of_many_samples(
    tmp_path: Path,
) -> None:
    """Before the model loads: problems x samples, the token budget and the engine; a run
    limited to a few problems that still draws AIME's 64 samples each is warned of."""
    problems = [Problem(f"p{i}", "q", "1") for i in range(2)]
    cfg = compose_spec(["benchmark=aime24", "benchmark.limit=2", "paths.data_dir=x"])
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
    quick = compose_spec(["benchmark=aime24", "benchmark.limit=2", "benchmark.n=1"])
    assert len(run_plan_lines(quick, make_request(tmp_path, problems=problems))) == 1


PRESET_7B = ["cluster=slurm_h100_example", "model=r1_distill_qwen_7b"]


def test_a_preset_plans_offline_from_its_heads_and_refuses_a_tp_that_splits_them() -> None:
    """Offline, with no config.json in the cache, the preset plans from the config.json
    fields evallaunch carries: R1-Distill-Qwen-7B's 28 attention heads and 4 KV heads,
    which TP 8 does not divide (vLLM would refuse it at start, after the allocation)."""
    (job,) = describe_sweep([*PRESET_7B, "parallelism=auto"], multirun=False)
    assert job.details is not None and job.plan is not None
    assert "28 layers, 28 attention heads, 4 KV heads of dimension 128" in job.details.model
    source = "https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-7B/blob/main/config.json"
    assert any(source in note for note in job.plan.notes)
    with pytest.raises(EvallaunchError, match=r"28 attention heads, 4 KV heads.*\[1, 2, 4\]"):
        plan_sweep([*PRESET_7B, "parallelism.tensor_parallel_size=8"], multirun=False)


VLLM_OVERRIDES = [
    "parallelism=auto",
    "backend.model_type=vllm",
    "parallelism.max_num_seqs=100",
    "parallelism.enforce_eager=true",
    "parallelism.gpu_memory_utilization=0.85",
    "+parallelism.engine_args.enable_prefix_caching=true",
    "+parallelism.engine_args.kv_cache_dtype=fp8",
]


def test_the_plan_shows_the_engine_and_the_settings_the_launched_job_gets() -> None:
    """The settings shown are those the launcher's job gives its engines (the plan's sizes
    written into `parallelism`, then the job's own rule), overrides and engine_args
    included; the default backend says it runs transformers, and why."""
    vllm_job, hf_job = (
        describe_sweep([*PRESET_7B, *VLLM_OVERRIDES], False),
        describe_sweep(PRESET_7B, False),
    )
    (label, plan, details), (_, hf_plan, hf_details) = vllm_job[0][:3], hf_job[0][:3]
    assert plan is not None and details is not None and hf_plan and hf_details
    cfg = compose_config([*PRESET_7B, *VLLM_OVERRIDES], return_hydra_config=True)
    apply_plan(cfg, plan)
    launched = engine_settings(job_spec(cfg), "cuda", "bfloat16", cfg.model.max_model_length)
    assert details.settings == launched.vllm_args()
    assert details.engine == f"vllm serve x {launched.replicas}"
    assert plan.max_num_seqs == 100  # the override, not the planned slots
    text = format_plan_table([(label, plan), ("hf", hf_plan)], [details, hf_details])
    engine_lines = [line for line in text.splitlines() if line.startswith("  engine: ")]
    for shown in (
        "max_num_seqs=100",
        "enforce_eager=True",
        "gpu_memory_utilization=0.85",
        "enable_prefix_caching=True",
        "kv_cache_dtype=fp8",
        f"tensor_parallel_size={plan.tp}",
    ):
        assert shown in engine_lines[0]
    assert engine_lines[1].startswith("  engine: transformers: dtype=bfloat16")
    assert "transformers because backend=lighteval has backend.model_type=transformers" in text
    assert "enforce_eager: no CUDA graphs" in text


def test_kv_cache_dtype_and_a_draft_model_change_the_memory_arithmetic() -> None:
    """fp8 KV halves the bytes of a token's KV cache, so twice the sequences fit; a
    speculative draft model's weights take their share of each GPU (one of unknown size:
    not counted, and the plan says so)."""
    fixed = [*PRESET_7B, "backend.model_type=vllm", "parallelism.tensor_parallel_size=2"]
    draft = "+parallelism.engine_args.speculative_config={model:%s,num_speculative_tokens:4}"
    rows = plan_sweep([*fixed, "+parallelism.engine_args.kv_cache_dtype=auto,fp8"], multirun=True)
    (_, auto), (_, fp8) = rows
    assert auto is not None and fp8 is not None
    assert fp8.kv_bytes_per_token * 2 == auto.kv_bytes_per_token
    assert fp8.sequences_that_fit in (2 * auto.sequences_that_fit, 2 * auto.sequences_that_fit + 1)
    ((_, drafted),) = plan_sweep(
        [*fixed, draft % "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"], False
    )
    ((_, unknown),) = plan_sweep([*fixed, draft % "org/unnamed-draft"], False)
    assert drafted is not None and unknown is not None
    small = load_model_facts("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", offline=True)
    added = drafted.weights_gb_per_gpu - auto.weights_gb_per_gpu
    assert added == pytest.approx(small.num_params * 2 / 2 / 1e9, abs=0.01)  # bf16, TP 2
    assert unknown.weights_gb_per_gpu == auto.weights_gb_per_gpu
    assert any("org/unnamed-draft: size unknown" in note for note in unknown.notes)


def test_cluster_local_plans_for_the_gpus_this_machine_has(monkeypatch: pytest.MonkeyPatch) -> None:
    """cluster=local plans for the GPUs a job here would see (the rule `evaluate` plans
    by); without one it says this machine has none."""
    from evallaunch.planning import local_gpus

    eight = {"gpu_type": "H100", "gpu_memory_gb": 80.0, "gpus_per_node": 8, "max_nodes": 1}
    monkeypatch.setattr(local_gpus, "local_gpu_hardware", lambda: eight)
    ((_, plan),) = plan_sweep(["model=r1_distill_qwen_7b", "parallelism=auto"], False)
    assert plan is not None and plan.total_gpus == 8 and plan.nodes == 1
    monkeypatch.setattr(local_gpus, "local_gpu_hardware", lambda: None)
    with pytest.raises(EvallaunchError, match="this machine has no GPU"):
        plan_sweep(["model=r1_distill_qwen_7b"], False)
