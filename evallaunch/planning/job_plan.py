"""Plan one evaluation job from its composed config and the cluster's hardware."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from evallaunch.config.schema import EvaluateConfig
from evallaunch.errors import EvallaunchError
from evallaunch.planning.inputs import Hardware, PlanRequest
from evallaunch.planning.model_facts import ModelFacts, load_model_facts
from evallaunch.planning.planner import Plan, plan
from evallaunch.runtime.offline import go_offline

STRATEGIES = ("auto", "single", "tp", "dp")
ENGINE_TYPES = ("vllm", "server")  # backend.model_type values served by vLLM engines


@lru_cache(maxsize=256)
def _facts(name_or_path: str, revision: str, cache_dir: str) -> ModelFacts:
    from evallaunch.models.embedded import embedded_checkpoint, is_embedded

    source = (
        str(embedded_checkpoint(name_or_path, cache_dir))
        if is_embedded(name_or_path)
        else name_or_path
    )
    return load_model_facts(source, revision=revision, name=name_or_path)


def model_facts(cfg: EvaluateConfig) -> ModelFacts:
    """Architecture facts of the job's model (config.json only; cached per model)."""
    go_offline(cfg.offline)
    return _facts(str(cfg.model.name_or_path), str(cfg.model.revision), str(cfg.paths.cache_dir))


def plan_request(cfg: EvaluateConfig, facts: ModelFacts) -> PlanRequest:
    """What the job asks of the hardware, from its model, benchmark and generation settings."""
    par = cfg.parallelism
    if par.name not in STRATEGIES:
        raise EvallaunchError(f"parallelism.name={par.name!r}; valid choices: {STRATEGIES}")
    bench = cfg.benchmark
    num_prompts = int(bench.limit or bench.dataset.rows or 500)
    max_len = cfg.model.max_model_length or facts.max_position_embeddings or 32768
    # vLLM (in-process or behind the job's servers) batches every request of the job; a
    # transformers model runs backend.batch_size prompts x n samples at once.
    if cfg.backend.model_type in ENGINE_TYPES:
        concurrent = num_prompts * int(bench.n)
    else:
        concurrent = int(bench.n) * max(int(cfg.backend.batch_size), 1)
    mean_new = bench.mean_new_tokens
    engine_args = _engine_args(cfg)
    draft_params, draft_notes = _draft_model(cfg, engine_args.get("speculative_config"))
    return PlanRequest(
        dtype="bfloat16" if cfg.model.dtype == "auto" else str(cfg.model.dtype),
        max_model_length=int(max_len),
        concurrent_sequences=concurrent,
        num_prompts=int(num_prompts),
        samples_per_prompt=int(bench.n),
        max_new_tokens=int(cfg.generation.max_new_tokens),
        strategy=str(par.name),
        tensor_parallel_size=par.tensor_parallel_size,
        data_parallel_size=par.data_parallel_size,
        pipeline_parallel_size=par.pipeline_parallel_size,
        gpu_memory_utilization=float(par.gpu_memory_utilization),
        max_num_seqs=par.max_num_seqs,
        mean_new_tokens=int(mean_new) if mean_new else None,
        kv_cache_dtype=str(engine_args.get("kv_cache_dtype") or "auto"),
        draft_params=draft_params,
        notes=draft_notes,
    )


def _engine_args(cfg: EvaluateConfig) -> dict[str, Any]:
    """parallelism.engine_args, refused as the job refuses them (a key evallaunch sets
    itself, such as max_model_len: model.max_model_length; any for a transformers model)."""
    from evallaunch.engines.args import check_own_engine_args, engine_args_of

    args = engine_args_of(cfg.parallelism)
    check_own_engine_args(args, cfg.backend.model_type)
    return args


def _draft_model(cfg: EvaluateConfig, speculative: Any) -> tuple[int, tuple[str, ...]]:
    """(parameters of the speculative draft model that speculative_config names, notes):
    0 without one, and a note when its size is unknown (its weights not counted)."""
    if not isinstance(speculative, dict) or speculative.get("method") == "ngram":
        return 0, ()  # no speculation, or n-gram lookup in the prompt: no draft weights
    draft = speculative.get("model")
    if not draft:
        return 0, ("speculative_config names no draft model: draft weights not counted",)
    try:
        facts = _facts(str(draft), "main", str(cfg.paths.cache_dir))
    except EvallaunchError as err:
        return 0, (f"speculative draft model {draft}: size unknown ({err}), not counted",)
    return facts.num_params, (
        f"speculative draft model {draft}: {facts.num_params / 1e9:.2f}B parameters counted "
        "in the weights (its KV cache is not)",
    )


def hardware_from(conf: dict[str, Any]) -> Hardware:
    """The planner's Hardware from a launcher's `hardware` block."""
    fields = Hardware.__dataclass_fields__
    return Hardware(**{key: value for key, value in conf.items() if key in fields})


def plan_for_config(cfg: EvaluateConfig, hardware: dict[str, Any]) -> Plan:
    """The resource plan of one composed job config on the given hardware."""
    facts = model_facts(cfg)
    return plan(facts, hardware_from(hardware), plan_request(cfg, facts))
