"""Turn a model's facts and the cluster's hardware into a vLLM parallelism plan and Slurm resources.

Per GPU (GB = 1e9 bytes): usable = gpu_memory_gb x gpu_memory_utilization - reserve, reserve =
2 GB (CUDA context, NCCL, CUDA graphs) + 2% of gpu_memory_gb (activation peak), so 80 GB at 0.9
leaves 68.4 GB; weights = num_params x dtype bytes / (tp x pp); KV per token = 2 x ceil(layers /
pp) x ceil(kv_heads / tp) x head_dim x dtype bytes; usable - weights is the KV budget, holding n
sequences when n x max_model_length tokens fit. TP divides the heads, and KV heads divide TP or
TP them (vLLM replicates them). Single-node replicas fill the node (dp), so a layout holds dp x n
sequences. Groups of layouts, in order: (1) pp = 1, tp = 1, 2, 4... in one node: the smallest tp
holding ``concurrent_sequences``, else the one holding most (a smaller tp wins within 10%;
strategy "dp": the smallest holding one); (2) likewise pp > 1 in one node at the largest tp;
(3) pp over the fewest whole nodes that hold one sequence.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.planning.model_facts import ModelFacts, kv_cache_bytes_per_token
from evallaunch.planning.throughput import (
    estimate_job,
    expected_new_tokens,
    gpu_spec,
    replica_model,
)

RESERVE_FIXED_GB = 2.0
RESERVE_FRACTION = 0.02
SAFETY_FACTOR = 1.5  # margin of the estimate (and time limit) over the throughput model
TIME_STEP_MIN = 30
SMALLER_TP_TOLERANCE = 0.9
STRATEGIES = ("auto", "single", "tp", "dp")
DTYPE_BYTES = {"auto": 2, "bfloat16": 2, "float16": 2, "float32": 4}
GB = 1e9


@dataclass(frozen=True)
class Hardware:
    """One kind of GPU node. HBM bandwidth (GB/s) and dense bf16 TFLOP/s feed the time
    estimates (evallaunch.planning.throughput); None: the figures of gpu_type's family."""

    gpu_type: str
    gpu_memory_gb: float
    gpus_per_node: int
    cpus_per_gpu: int = 8
    mem_per_gpu_gb: float = 64
    max_nodes: int = 8
    hbm_gbps: float | None = None
    bf16_tflops: float | None = None


@dataclass(frozen=True)
class PlanRequest:
    """What one job asks for. Parallel sizes left None are chosen by the planner."""

    dtype: str
    max_model_length: int
    concurrent_sequences: int
    num_prompts: int
    samples_per_prompt: int
    max_new_tokens: int
    strategy: str = "auto"
    tensor_parallel_size: int | None = None
    data_parallel_size: int | None = None
    pipeline_parallel_size: int | None = None
    gpu_memory_utilization: float = 0.9
    total_gpus: int | None = None
    mean_new_tokens: int | None = None  # expected completion length (None: a share of the cap)


@dataclass(frozen=True)
class Plan:
    """A parallelism layout with its memory arithmetic, time estimate and Slurm resources."""

    tp: int
    dp: int
    pp: int
    gpus_per_replica: int
    total_gpus: int
    nodes: int
    gpus_per_node: int
    gpu_memory_utilization: float
    weights_gb_per_gpu: float
    kv_bytes_per_token: int
    kv_cache_gb_per_gpu: float
    max_num_seqs: int
    sequences_that_fit: int
    estimated_hours: float
    time_limit_min: int
    cpus_per_task: int
    mem_gb: int
    dtype: str = "bfloat16"
    max_model_len: int = 0
    notes: tuple[str, ...] = ()

    def vllm_args(self) -> dict[str, Any]:
        """Keyword arguments for vLLM's engine (``vllm.LLM`` / lighteval's vLLM model config)."""
        sizes = {"tensor_parallel_size": self.tp, "data_parallel_size": self.dp}
        names = ("gpu_memory_utilization", "max_num_seqs", "max_model_len", "dtype")
        return {**sizes, "pipeline_parallel_size": self.pp, **{n: getattr(self, n) for n in names}}

    def transformers_args(self) -> dict[str, Any]:
        """Keyword arguments for ``from_pretrained`` (one replica; transformers has no DP)."""
        multi = {"device_map": "auto"} if self.gpus_per_replica > 1 else {}
        return {"dtype": self.dtype, **multi}

    def slurm_resources(self) -> dict[str, Any]:
        """Parameters of submitit / hydra-submitit-launcher's Slurm launcher."""
        same = {n: getattr(self, n) for n in ("nodes", "gpus_per_node", "cpus_per_task", "mem_gb")}
        return {**same, "tasks_per_node": 1, "timeout_min": self.time_limit_min}

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-serialisable values."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _Layout:
    tp: int
    pp: int
    weights_gb: float  # per GPU
    budget_gb: float  # KV budget per GPU
    fit: int  # full-length sequences per replica


def valid_tp(facts: ModelFacts, tp: int) -> bool:
    """Whether vLLM accepts this tensor-parallel size for the model's attention heads."""
    heads, kv = facts.num_attention_heads, facts.num_kv_heads or facts.num_attention_heads
    if heads is None or kv is None:
        return tp >= 1 and tp & (tp - 1) == 0  # heads unknown: powers of two
    return tp >= 1 and heads % tp == 0 and (kv % tp == 0 or tp % kv == 0)


def plan(facts: ModelFacts, hardware: Hardware, request: PlanRequest) -> Plan:
    """Choose tensor, pipeline and data parallel sizes and the Slurm resources of one job.

    Args:
        facts: The model (see ``load_model_facts``).
        hardware: The GPU nodes the job may use.
        request: Precision, context length, concurrency, workload and overrides.

    Raises:
        EvallaunchError: An invalid request or override (naming its config key), or a model
            that does not fit in ``max_nodes`` nodes (with the numbers).
    """
    req, hw, notes = request, hardware, list(facts.notes)
    if req.dtype not in DTYPE_BYTES:
        raise EvallaunchError(f"model.dtype={req.dtype!r}; valid choices: {tuple(DTYPE_BYTES)}")
    if req.strategy not in STRATEGIES:
        raise EvallaunchError(f"parallelism.name={req.strategy!r}; valid choices: {STRATEGIES}")
    if min(req.max_model_length, req.concurrent_sequences) < 1:
        raise EvallaunchError("max_model_length and concurrent_sequences must be positive")
    nbytes = DTYPE_BYTES[req.dtype]
    lay = _choose(facts, hw, req, nbytes)
    gpr, node = lay.tp * lay.pp, hw.gpus_per_node
    dp = _replicas(req, node, gpr) if gpr <= node else req.data_parallel_size or 1
    if dp < 1 or (dp > 1 and dp * gpr > node):
        raise EvallaunchError(
            f"parallelism.data_parallel_size={dp}: {dp} replicas of {gpr} GPUs do not fit in one "
            f"node of {node}; valid choices: 1..{max(node // gpr, 1)}"
        )
    nodes, per_node = max(gpr // node, 1), min(dp * gpr, node)
    if req.total_gpus and req.total_gpus != dp * gpr:
        notes.append(f"total_gpus={req.total_gpus}: using {dp * gpr} (whole replicas, one node)")
    if nodes > 1:
        notes.append(f"pipeline parallel over {nodes} nodes: vLLM needs a Ray cluster on them")
    if dp * lay.fit < req.concurrent_sequences:
        notes.append(f"only {dp * lay.fit} of {req.concurrent_sequences} full-length sequences fit")
    max_pos = facts.max_position_embeddings
    if max_pos and req.max_model_length > max_pos:
        notes.append(f"model.max_model_length > max_position_embeddings ({max_pos}): vLLM refuses")
    # Throughput model: dp replicas started once, CUDA graphs, the plan's slots and KV cache.
    slots = max(1, min(lay.fit, req.concurrent_sequences))
    gpu = gpu_spec(hw.gpu_type, hw.hbm_gbps, hw.bf16_tflops)
    replica = replica_model(facts, gpu, gpr, nbytes)
    capacity = lay.budget_gb * GB * gpr / max(replica.kv_bytes_per_token, 1)
    requests = req.num_prompts * req.samples_per_prompt
    tokens = expected_new_tokens(req.mean_new_tokens, req.max_new_tokens)
    estimate = estimate_job(replica, dp, slots, capacity, requests, tokens, req.max_new_tokens)
    hours = estimate.total_s / 3600 * SAFETY_FACTOR
    return Plan(
        tp=lay.tp,
        dp=dp,
        pp=lay.pp,
        gpus_per_replica=gpr,
        total_gpus=dp * gpr,
        nodes=nodes,
        gpus_per_node=per_node,
        gpu_memory_utilization=req.gpu_memory_utilization,
        weights_gb_per_gpu=round(lay.weights_gb, 2),
        kv_bytes_per_token=kv_cache_bytes_per_token(facts, nbytes),
        kv_cache_gb_per_gpu=round(lay.budget_gb, 2),
        max_num_seqs=slots,
        sequences_that_fit=lay.fit,
        estimated_hours=round(hours, 2),
        time_limit_min=max(1, math.ceil(hours * 60 / TIME_STEP_MIN)) * TIME_STEP_MIN,
        cpus_per_task=hw.cpus_per_gpu * per_node,
        mem_gb=math.ceil(hw.mem_per_gpu_gb * per_node),
        dtype="bfloat16" if req.dtype == "auto" else req.dtype,
        max_model_len=req.max_model_length,
        notes=tuple(notes),
    )


def _layout(facts: ModelFacts, tp: int, pp: int, nb: int, usable: float, length: int) -> _Layout:
    weights = facts.num_params * nb / (tp * pp) / GB
    if facts.num_layers and facts.num_kv_heads and facts.head_dim:
        layers, kv = -(-facts.num_layers // pp), -(-facts.num_kv_heads // tp)
        per_token = 2 * layers * kv * facts.head_dim * nb
    else:  # name-only facts: the estimate, split evenly
        per_token = -(-kv_cache_bytes_per_token(facts, nb) // (tp * pp))
    fit = int((usable - weights) * GB // (per_token * length)) if usable > weights else 0
    return _Layout(tp, pp, weights, usable - weights, fit)


def _replicas(req: PlanRequest, node: int, gpus_per_replica: int) -> int:
    fill = max(min(req.total_gpus or node, node) // gpus_per_replica, 1)
    return req.data_parallel_size or (1 if req.strategy == "single" else fill)


def _best(group: list[_Layout], req: PlanRequest, node: int) -> _Layout | None:
    """The smallest layout whose replicas hold the concurrent sequences, else the most held."""
    held = [(x, _replicas(req, node, x.tp * x.pp) * x.fit) for x in group if x.fit >= 1]
    full = [x for x, n in held if n >= req.concurrent_sequences]
    if full or not held or req.strategy == "dp":
        return full[0] if full else held[0][0] if held else None
    floor = SMALLER_TP_TOLERANCE * max(n for _, n in held)  # a smaller tp wins within 10%
    return next(x for x, n in held if n >= floor)


def _choose(facts: ModelFacts, hw: Hardware, req: PlanRequest, nb: int) -> _Layout:
    node, limit = hw.gpus_per_node, hw.gpus_per_node * hw.max_nodes
    reserve = RESERVE_FIXED_GB + RESERVE_FRACTION * hw.gpu_memory_gb
    usable = hw.gpu_memory_gb * req.gpu_memory_utilization - reserve
    fixed_tp, fixed_pp = req.tensor_parallel_size, req.pipeline_parallel_size

    def placeable(gpus: int) -> bool:  # inside one node, or whole nodes
        return gpus <= node or (gpus % node == 0 and gpus <= limit)

    choices = [t for t in range(1, node + 1) if valid_tp(facts, t)]
    if fixed_tp is not None and fixed_tp not in choices:
        raise EvallaunchError(
            f"parallelism.tensor_parallel_size={fixed_tp} does not suit {facts.name} ("
            f"{facts.num_attention_heads} heads, {facts.num_kv_heads} KV); valid choices: {choices}"
        )
    tps = [t for t in choices if t & (t - 1) == 0]  # powers of two
    tps = [fixed_tp] if fixed_tp else {"single": tps[:1], "tp": tps[-1:]}.get(req.strategy, tps)
    layers = facts.num_layers or limit
    pps = [fixed_pp] if fixed_pp else range(1, 2 if req.strategy == "single" else layers + 1)
    layouts = [
        _layout(facts, t, p, nb, usable, req.max_model_length)
        for p in pps
        for t in tps  # pipeline stages only at the largest TP:
        if (p == 1 or fixed_pp or t == tps[-1]) and 1 <= p <= layers and placeable(t * p)
    ]
    if not layouts:
        valid = [p for p in range(1, layers + 1) if placeable(tps[-1] * p)]
        raise EvallaunchError(
            f"parallelism.pipeline_parallel_size={fixed_pp}: TP {tps[-1]} x PP must fit one node or"
            f" fill whole nodes ({node} GPUs, at most {hw.max_nodes} nodes); valid choices: {valid}"
        )
    in_node = [x for x in layouts if x.tp * x.pp <= node]
    for group in ([x for x in in_node if x.pp == 1], [x for x in in_node if x.pp > 1]):
        if found := _best(group, req, node):
            return found
    multi = [x for x in layouts if x.tp * x.pp > node and x.fit >= 1]
    if multi:  # extra nodes cost: the fewest that hold at least one sequence
        return min(multi, key=lambda x: x.tp * x.pp)
    big = max(layouts, key=lambda x: x.tp * x.pp)
    seq_gb = kv_cache_bytes_per_token(facts, nb) * req.max_model_length / GB
    raise EvallaunchError(
        f"{facts.name} does not fit: {facts.num_params * nb / GB:.1f} GB of weights in {req.dtype}"
        f" + {seq_gb:.2f} GB of KV cache per {req.max_model_length}-token sequence; a "
        f"{hw.gpu_memory_gb:g} GB {hw.gpu_type} has {usable:.1f} GB usable, {node} per node, at "
        f"most {hw.max_nodes} node(s); tried up to TP {big.tp} x PP {big.pp}",
        hint="use bfloat16, a shorter model.max_model_length, more nodes or larger GPUs",
    )


def open_r1_rule(facts: ModelFacts) -> dict[str, int]:
    """open-r1's GPU choice, for comparison (``open_r1/utils/hub.py`` and ``evaluation.py``).

    GPUs = the largest of 8, 4, 2, 1 dividing both the attention heads and 64; tensor parallel
    over them for models of 30e9 parameters or more, data parallel otherwise.
    """
    gpus = next(g for g in (8, 4, 2, 1) if (facts.num_attention_heads or 64) % g == 0)
    tensor = facts.num_params >= 30e9
    return {"gpus": gpus, "tp": gpus if tensor else 1, "dp": 1 if tensor else gpus}
