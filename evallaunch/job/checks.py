"""The checks a job's config passes before any job starts: its values
(`evallaunch.config.preflight`), then what only the installed libraries can say: the
harness's model arguments and generation settings, vLLM's engine arguments and variables,
the endpoint, the unit and replica settings."""

from __future__ import annotations

from evallaunch.backends.base import MODEL_TYPES
from evallaunch.backends.model_args import check_model_args as check_harness_model_args
from evallaunch.config.preflight import check_values
from evallaunch.config.schema import EvaluateConfig
from evallaunch.engines.args import (
    check_engine_args,
    check_engine_env,
    check_model_args,
    engine_args_of,
    engine_env_of,
)
from evallaunch.engines.settings import EngineSettings, resolve_units_in_flight
from evallaunch.errors import EvallaunchError
from evallaunch.job.units import resolve_problems_per_unit
from evallaunch.planning.batching import check_per_job
from evallaunch.serving.endpoint import check_endpoint


def validate_job(cfg: EvaluateConfig) -> None:
    """Every check of one job's config; the first that fails raises EvallaunchError."""
    check_values(cfg)
    if cfg.backend.model_type not in MODEL_TYPES:
        raise EvallaunchError(
            f"backend.model_type={cfg.backend.model_type!r} is invalid: valid choices are "
            f"{', '.join(MODEL_TYPES)}"
        )
    check_engine_args(engine_args_of(cfg.parallelism), cfg.backend.model_type, cfg.paths.cache_dir)
    check_engine_env(engine_env_of(cfg.parallelism), cfg.backend.model_type, cfg.paths.cache_dir)
    check_model_args(cfg.backend.model_args, cfg.backend.model_type)
    check_engine_config(cfg)
    check_harness_model_args(cfg.backend)
    if cfg.benchmark.format == "harness":  # generation.* as the harness's gen_kwargs
        from evallaunch.harness.generation import harness_gen_kwargs
        from evallaunch.harness.job_harness import harness_of

        harness_gen_kwargs(cfg, harness_of(cfg))
    check_endpoint(cfg)
    check_per_job(cfg.launch.benchmarks_per_job)


def check_engine_config(cfg: EvaluateConfig) -> None:
    """Value checks of the unit, replica and engine settings (before anything runs)."""
    par, sampling = cfg.parallelism, cfg.sampling
    for key in (
        "tensor_parallel_size",
        "data_parallel_size",
        "pipeline_parallel_size",
        "max_num_seqs",
    ):
        value = getattr(par, key)
        if value is not None and value < 1:
            raise EvallaunchError(
                f"parallelism.{key}={value} is invalid: expected a value >= 1 or null (planned)"
            )
    resolve_problems_per_unit(sampling.problems_per_unit, EngineSettings(), 1, 1)
    resolve_units_in_flight(sampling.units_in_flight, cfg.backend.model_type, "cpu")
    servers = cfg.backend.server.num_servers
    if servers != "auto" and not (isinstance(servers, int) and servers >= 1):
        raise EvallaunchError(
            f"backend.server.num_servers={servers!r} is invalid: expected auto (one per "
            "engine replica) or a value >= 1"
        )
