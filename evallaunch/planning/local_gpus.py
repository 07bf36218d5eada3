"""Planning on the GPUs this process sees (one node): a job run with `parallelism=auto`
outside a cluster, and `evallaunch plan` with `cluster=local`."""

from __future__ import annotations

import logging
from typing import Any

from evallaunch.config.schema import EvaluateConfig
from evallaunch.engines.settings import EngineSettings, engine_settings
from evallaunch.errors import EvallaunchError
from evallaunch.planning.job_plan import plan_for_config

log = logging.getLogger(__name__)


def job_engine_settings(
    cfg: EvaluateConfig, device: str, dtype: str, max_model_len: int | None
) -> EngineSettings:
    """`engine_settings` of a job: with `parallelism=auto` and sizes left null on a GPU
    machine, the null sizes come from the plan for the GPUs it sees."""
    par = cfg.parallelism
    keys = ("tensor_parallel_size", "data_parallel_size", "pipeline_parallel_size", "max_num_seqs")
    unset = None in [getattr(par, key) for key in keys]
    planned = cfg.backend.model_type != "transformers" and device == "cuda"
    plan = plan_on_local_gpus(cfg) if planned and par.name != "single" and unset else None
    return engine_settings(cfg, device, dtype, max_model_len, plan)


def estimated_hours(cfg: EvaluateConfig, device: str) -> float | None:
    """The planner's estimate of the job's time on the GPUs this process sees (its
    throughput model, evallaunch.planning.throughput); None on a CPU, or without one."""
    if device != "cuda" or cfg.backend.model_type == "transformers":
        return None
    try:
        return float(plan_on_local_gpus(cfg).estimated_hours)
    except Exception as err:  # an estimate is a courtesy: never a reason to fail the job
        log.info("No time estimate: %s", err)
        return None


def plan_on_local_gpus(cfg: EvaluateConfig) -> Any:
    """The planner's layout for the GPUs this process sees (one node)."""
    hardware = local_gpu_hardware()
    if hardware is None:
        raise EvallaunchError("no GPU is visible to plan for")
    plan = plan_for_config(cfg, hardware)
    log.info(
        "Planned on %d x %s: %d replica(s) x TP %d, max_num_seqs %d",
        hardware["gpus_per_node"],
        hardware["gpu_type"],
        plan.dp,
        plan.tp,
        plan.max_num_seqs,
    )
    return plan


def local_gpu_hardware() -> dict[str, Any] | None:
    """The planner's hardware block for the GPUs this process sees (one node), or None
    where CUDA sees none."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {
        "gpu_type": props.name,
        "gpu_memory_gb": props.total_memory / 1e9,
        "gpus_per_node": torch.cuda.device_count(),
        "max_nodes": 1,
    }
