"""What a job sets up before it generates: the backend and the generation request (device,
dtype, the token budget that fits the context, the engines' settings), and the records of
the model and config it runs with. Both the runner and the harness path use them."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from evallaunch.backends.base import Backend, GenerationRequest, build_backend
from evallaunch.benchmarks.problem import Problem
from evallaunch.config.frozen import plain
from evallaunch.config.preflight import effective_max_new_tokens
from evallaunch.config.schema import EvaluateConfig
from evallaunch.models.resolve import pick_device_and_dtype, resolve_model
from evallaunch.planning.local_gpus import job_engine_settings
from evallaunch.runtime.secrets import redact_config

log = logging.getLogger(__name__)


def prepare_generation(
    cfg: EvaluateConfig, job_dir: Path, problems: list[Problem]
) -> tuple[Backend, GenerationRequest]:
    """The backend and the job's generation request: the model resolved to a path, its
    device and dtype, the token budget that fits the context, the engines' settings."""
    device, dtype = pick_device_and_dtype(cfg.backend.device, cfg.model.dtype)
    model_path = resolve_model(cfg.model, cfg.paths.cache_dir)
    log.info(
        "Instantiating backend <%s> for %s (%s, %s)",
        cfg.backend._target_,
        model_path,
        device,
        dtype,
    )
    backend = build_backend(cfg.backend)
    bench, gen = cfg.benchmark, cfg.generation
    request = GenerationRequest(
        benchmark=bench.name,
        problems=problems,
        model_path=model_path,
        revision=None if Path(model_path).is_dir() else cfg.model.revision,
        dtype=dtype,
        device=device,
        chat_template=cfg.model.chat_template,
        system_prompt=cfg.model.system_prompt,
        max_model_length=cfg.model.max_model_length,
        trust_remote_code=cfg.model.trust_remote_code,
        n=bench.n,
        temperature=gen.temperature,
        top_p=gen.top_p,
        max_new_tokens=gen.max_new_tokens,
        seed=gen.seed,
        work_dir=job_dir,
        scorer=bench.scorer,
        engine=job_engine_settings(cfg, device, dtype, cfg.model.max_model_length),
    )
    # vLLM reads its variables when it starts: in this process, and in the replicas, which
    # inherit them.
    os.environ.update(request.engine.engine_env)
    return backend, replace(request, max_new_tokens=_max_new_tokens(backend, request))


def _max_new_tokens(backend: Backend, request: GenerationRequest) -> int:
    """generation.max_new_tokens, lowered (with a warning) to what fits the model's context
    beside the longest prompt (a harness task's prompts are the harness's: room is kept
    for them)."""
    wanted, context = request.max_new_tokens, request.max_model_length
    if not context:
        return wanted
    longest = backend.longest_prompt_tokens(request) if request.problems else None
    max_new_tokens = effective_max_new_tokens(wanted, context, longest)
    if max_new_tokens != wanted:
        log.warning(
            "generation.max_new_tokens=%d does not fit model.max_model_length=%d beside the "
            "prompts: using %d",
            wanted,
            context,
            max_new_tokens,
        )
    return max_new_tokens


def model_record(cfg: EvaluateConfig, request: GenerationRequest) -> dict[str, Any]:
    """results.json's model section: the model as configured and as loaded."""
    model = cfg.model
    return {
        "name": model.name,
        "name_or_path": model.name_or_path,
        "revision": model.revision,
        "version": model.version,
        "step": model.step,
        "tokens_trained": model.tokens_trained,
        "resolved_path": request.model_path,
        "dtype": request.dtype,
        "device": request.device,
    }


def save_config(cfg: EvaluateConfig, job_dir: Path) -> None:
    """The job's resolved config, secrets redacted, as config.yaml."""
    resolved = plain(cfg)
    OmegaConf.save(OmegaConf.create(redact_config(resolved)), job_dir / "config.yaml")
