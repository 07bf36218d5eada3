"""What `evallaunch plan` says of a job beside its table row: the model's facts, the engine
the job runs and every setting that engine is given. The settings come from the job's own
rule (evallaunch.engines.settings.engine_settings) with the plan's sizes where `parallelism`
leaves them null, as the launcher writes them; nothing here decides a setting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evallaunch.planning.model_facts import ModelFacts
from evallaunch.planning.planner import Plan

# backend.server.command fields that carry engine settings, and the settings' names.
SERVER_FIELDS = {
    "tensor_parallel_size": "tensor_parallel_size",
    "data_parallel_size": "data_parallel_size",
    "max_model_length": "max_model_len",
    "dtype": "dtype",
}

EAGER = "enforce_eager: no CUDA graphs, so decoding is slower than the time estimate assumes"


@dataclass(frozen=True)
class JobDetails:
    """The model, engine and engine settings of one planned job.

    Attributes:
        model: The architecture facts the plan used, and where they came from.
        engine: Which engine runs the model: "vLLM in process", "vllm serve x 4" (the
            job's vLLM servers), "transformers", or the first words of backend.server.command
            with the number of servers.
        settings: Every setting the engine is given (defaults and overrides).
        notes: Why this engine, and what the engine is not given.
    """

    model: str
    engine: str
    settings: dict[str, Any]
    notes: tuple[str, ...] = ()


def describe_model(facts: ModelFacts) -> str:
    """The facts the plan used: parameters, and layers and heads when config.json gave them."""
    size = f"{facts.num_params / 1e9:.2f}B parameters"
    if facts.num_attention_heads is None:
        return f"{size} (from its name; heads and layers unknown)"
    return (
        f"{size}, {facts.num_layers} layers, {facts.num_attention_heads} attention heads, "
        f"{facts.num_kv_heads} KV heads of dimension {facts.head_dim} (config.json; parameters "
        f"counted from: {facts.param_source})"
    )


def job_details(cfg: Any, plan: Plan, facts: ModelFacts, launcher_plans: bool) -> JobDetails:
    """The details of one job planned as `plan`.

    Args:
        cfg: The job's resolved config.
        plan: Its plan.
        facts: The model facts the plan used.
        launcher_plans: The launcher writes the plan's sizes into the job (a cluster with a
            `hardware` block); else the job plans itself on the GPUs it sees, as
            `parallelism=single` does not.
    """
    from evallaunch.engines.settings import engine_settings, resolve_units_in_flight, uses_servers

    model_type = str(cfg.backend.model_type)
    fills = launcher_plans or cfg.parallelism.name != "single"
    engine = engine_settings(
        cfg, "cuda", plan.dtype, cfg.model.max_model_length, plan=plan if fills else None
    )
    model = describe_model(facts)
    if model_type == "transformers":
        return _transformers(cfg, plan, model)
    eager = (EAGER,) if engine.enforce_eager else ()
    if model_type == "vllm":
        units = resolve_units_in_flight(cfg.sampling.units_in_flight, model_type, "cuda", engine)
        label = f"vllm serve x {engine.replicas}"
        if not uses_servers(model_type, engine, units):
            label = "vLLM in process"
        return JobDetails(model, label, engine.vllm_args(), eager)
    server = cfg.backend.server
    command, count = str(server.command), server.num_servers
    count = engine.replicas if count == "auto" else int(count)
    label = f"{' '.join(command.split()[:2])} x {count}"
    if "{vllm_engine_args}" in command:
        return JobDetails(model, label, engine.vllm_args(), eager)
    args = {**engine.vllm_args(), "data_parallel_size": max(1, engine.replicas // count)}
    given = {name: args.get(name) for key, name in SERVER_FIELDS.items() if f"{{{key}}}" in command}
    left = ", ".join(sorted(set(engine.vllm_args()) - set(given)))
    note = f"backend.server.command does not pass {left}: the server's own defaults apply"
    return JobDetails(model, label, given, (note,))


def _transformers(cfg: Any, plan: Plan, model: str) -> JobDetails:
    """An in-process transformers model: why, and what it is given."""
    batch, n = int(cfg.backend.batch_size), int(cfg.benchmark.n)
    settings = {"dtype": plan.dtype, "max_model_len": cfg.model.max_model_length}
    settings["batch_size"] = batch
    if plan.gpus_per_replica > 1:
        settings["device_map"] = "auto"
    notes = [
        f"transformers because backend={cfg.backend.name} has backend.model_type=transformers: "
        f"{batch} prompt(s) x benchmark.n={n} samples at once; backend.model_type=vllm runs "
        "vLLM, which batches every request of the job"
    ]
    if plan.dp > 1:
        notes.append(f"transformers runs one model: {plan.dp - 1} of {plan.dp} replicas stay idle")
    return JobDetails(model, "transformers", settings, tuple(notes))
