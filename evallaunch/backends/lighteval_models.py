"""lighteval's in-process models (transformers, vLLM), built once per job for all its units."""

from __future__ import annotations

from typing import Any

from evallaunch.backends.base import GenerationRequest
from evallaunch.compat.lighteval import (
    lighteval_vllm_engine_args,
    lighteval_vllm_module,
    model_for_the_whole_job,
)
from evallaunch.models.resolve import context_length


def _common_fields(request: GenerationRequest) -> dict[str, Any]:
    """The config fields lighteval's model configs share."""
    from lighteval.models.model_input import GenerationParameters

    return {
        "model_name": request.model_path,
        "revision": request.revision or "main",
        "dtype": request.dtype,
        "trust_remote_code": request.trust_remote_code,
        "override_chat_template": request.chat_template,
        "system_prompt": request.system_prompt,
        # No max_new_tokens: lighteval would cut the prompt to that many tokens. The
        # task's generation_size sets the length instead.
        "generation_parameters": GenerationParameters(
            temperature=request.temperature, top_p=request.top_p, seed=request.seed
        ),
    }


def transformers_model(request: GenerationRequest, batch_size: int, extra: dict[str, Any]) -> Any:
    """lighteval's in-process transformers model; backend.model_args override the config."""
    from lighteval.models.transformers.transformers_model import (
        TransformersModel,
        TransformersModelConfig,
    )

    fields = {
        **_common_fields(request),
        "device": request.device,
        "batch_size": batch_size,
        "max_length": request.max_model_length,
    }
    model = model_for_the_whole_job(TransformersModel)(
        config=TransformersModelConfig(**{**fields, **extra})
    )
    # lighteval leaves do_sample to the checkpoint's generation config; without it,
    # n > 1 samples would all be the greedy completion.
    model.generation_config_dict["do_sample"] = request.temperature > 0
    return model


def vllm_model_config(request: GenerationRequest, extra: dict[str, Any]) -> Any:
    """lighteval's `VLLMModelConfig` for one replica with the job's engine settings
    (evallaunch runs more replicas as servers); backend.model_args override them."""
    engine = request.engine
    fields = {
        **_common_fields(request),
        "tensor_parallel_size": engine.tensor_parallel_size,
        "pipeline_parallel_size": engine.pipeline_parallel_size,
        "data_parallel_size": 1,
        "gpu_memory_utilization": engine.gpu_memory_utilization,
        # Always set: lighteval 0.13 would read it from a vLLM attribute newer vLLMs lack.
        "max_model_length": request.max_model_length
        or engine.max_model_len
        or context_length(request.model_path),
        "seed": request.seed,
    }
    if engine.max_num_seqs:
        fields["max_num_seqs"] = engine.max_num_seqs
    return lighteval_vllm_module().VLLMModelConfig(**{**fields, **extra})


def vllm_model(request: GenerationRequest, extra: dict[str, Any]) -> Any:
    """lighteval's in-process vLLM model for one replica, with CUDA graphs unless
    parallelism.enforce_eager (lighteval 0.13 hard-codes eager mode:
    evallaunch.compat.lighteval)."""
    model_class = model_for_the_whole_job(lighteval_vllm_module().VLLMModel)
    # enforce_eager and parallelism.engine_args: lighteval's config has no field for them.
    engine = request.engine
    with lighteval_vllm_engine_args(enforce_eager=engine.enforce_eager, **engine.engine_args):
        return model_class(config=vllm_model_config(request, extra))
