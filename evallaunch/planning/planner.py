"""Turn a model's facts and the cluster's hardware into a vLLM parallelism plan and Slurm resources.

Per GPU (GB = 1e9 bytes): usable = gpu_memory_gb x gpu_memory_utilization - reserve, reserve =
2 GB (CUDA context, NCCL, CUDA graphs) + 2% of gpu_memory_gb (activation peak), so 80 GB at 0.9
leaves 68.4 GB; weights = num_params x dtype bytes / (tp x pp); KV per token = 2 x ceil(layers /
pp) x ceil(kv_heads / tp) x head_dim x dtype bytes; usable - weights is the KV budget. TP divides
the heads, and KV heads divide TP or TP them (vLLM replicates them). A layout fits when a
replica holds one full-length (max_model_length) sequence, as vLLM requires at start.

The engine's slots (``max_num_seqs``): vLLM allocates KV blocks as sequences grow, so a replica
runs `throughput.engine_slots` sequences: SLOT_MARGIN x what its cache holds at the expected
context (the benchmark's mean completion), at most the job's requests; ``sequences_that_fit``
keeps the full-length count. Single-node replicas fill the node (dp). Groups of layouts, in
order: (1) pp = 1, tp = 1, 2, 4... in one node; (2) pp > 1 in one node at the largest tp; (3) pp
over the fewest whole nodes that hold one sequence. Within (1) and (2) the layout of the
shortest modeled job wins (`throughput.estimate_job`: for a large job, the node's tokens/s =
replicas x one replica's tokens/s at its slots), a smaller tp within LAYOUT_TOLERANCE; strategy
"dp": the smallest tp that fits, "tp": the largest, "single": one GPU; explicit sizes win.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.planning.model_facts import ModelFacts, kv_cache_bytes_per_token
from evallaunch.planning.throughput import (
    MAX_ENGINE_SLOTS,
    JobEstimate,
    engine_slots,
    estimate_job,
    expected_new_tokens,
    gpu_spec,
    kv_slots,
    replica_model,
)

RESERVE_FIXED_GB = 2.0
RESERVE_FRACTION = 0.02
SAFETY_FACTOR = 1.5  # margin of the estimate (and time limit) over the throughput model
TIME_STEP_MIN = 30
LAYOUT_TOLERANCE = 1.02  # a smaller TP wins when its modeled job takes at most 2% longer
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
    kv_gpu_bytes: float  # KV bytes of one token on one GPU of the replica

    @property
    def gpus(self) -> int:
        return self.tp * self.pp

    @property
    def kv_tokens(self) -> float:
        """Tokens of KV cache one replica holds."""
        return max(self.budget_gb, 0.0) * GB / self.kv_gpu_bytes


@dataclass(frozen=True)
class _Candidate:
    """A layout with its replicas, engine slots and modeled job time."""

    layout: _Layout
    dp: int
    slots: int
    held: int  # sequences a replica's KV cache holds at the expected context
    estimate: JobEstimate


def valid_tp(facts: ModelFacts, tp: int) -> bool:
    """Whether vLLM accepts this tensor-parallel size for the model's attention heads."""
    heads, kv = facts.num_attention_heads, facts.num_kv_heads or facts.num_attention_heads
    if heads is None or kv is None:
        return tp >= 1 and tp & (tp - 1) == 0  # heads unknown: powers of two
    return tp >= 1 and heads % tp == 0 and (kv % tp == 0 or tp % kv == 0)


def plan(facts: ModelFacts, hardware: Hardware, request: PlanRequest) -> Plan:
    """Choose tensor, pipeline and data parallel sizes, the engines' slots and the Slurm
    resources of one job.

    Args:
        facts: The model (see ``load_model_facts``).
        hardware: The GPU nodes the job may use.
        request: Precision, context length, workload and overrides.

    Raises:
        EvallaunchError: An invalid request or override (naming its config key), or a model
            that does not fit in ``max_nodes`` nodes (with the numbers).
    """
    _check_request(request)
    nbytes = DTYPE_BYTES[request.dtype]
    layouts = _layouts(facts, hardware, request, nbytes)
    best = _choose(facts, hardware, request, nbytes, layouts)
    return _plan_of(facts, hardware, request, best)


def _check_request(req: PlanRequest) -> None:
    if req.dtype not in DTYPE_BYTES:
        raise EvallaunchError(f"model.dtype={req.dtype!r}; valid choices: {tuple(DTYPE_BYTES)}")
    if req.strategy not in STRATEGIES:
        raise EvallaunchError(f"parallelism.name={req.strategy!r}; valid choices: {STRATEGIES}")
    if min(req.max_model_length, req.concurrent_sequences) < 1:
        raise EvallaunchError("max_model_length and concurrent_sequences must be positive")


def _plan_of(facts: ModelFacts, hw: Hardware, req: PlanRequest, best: _Candidate) -> Plan:
    lay, dp, notes = best.layout, best.dp, list(facts.notes)
    gpr, node = lay.gpus, hw.gpus_per_node
    nodes, per_node = max(gpr // node, 1), min(dp * gpr, node)
    if req.total_gpus and req.total_gpus != dp * gpr:
        notes.append(f"total_gpus={req.total_gpus}: using {dp * gpr} (whole replicas, one node)")
    if nodes > 1:
        notes.append(f"pipeline parallel over {nodes} nodes: vLLM needs a Ray cluster on them")
    if best.slots > lay.fit:
        notes.append(
            f"max_num_seqs {best.slots}: a replica's KV cache holds {lay.fit} full-length "
            f"sequences, {best.held} at the expected context (vLLM allocates it as they grow)"
        )
    max_pos = facts.max_position_embeddings
    if max_pos and req.max_model_length > max_pos:
        notes.append(f"model.max_model_length > max_position_embeddings ({max_pos}): vLLM refuses")
    hours = best.estimate.total_s / 3600 * SAFETY_FACTOR
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
        kv_bytes_per_token=kv_cache_bytes_per_token(facts, DTYPE_BYTES[req.dtype]),
        kv_cache_gb_per_gpu=round(lay.budget_gb, 2),
        max_num_seqs=best.slots,
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
    return _Layout(tp, pp, weights, usable - weights, fit, float(per_token))


def _layouts(facts: ModelFacts, hw: Hardware, req: PlanRequest, nb: int) -> list[_Layout]:
    """Every layout the request and the strategy allow (pipeline stages at the largest TP)."""
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
        for t in tps
        if (p == 1 or fixed_pp or t == tps[-1]) and 1 <= p <= layers and placeable(t * p)
    ]
    if not layouts:
        valid = [p for p in range(1, layers + 1) if placeable(tps[-1] * p)]
        raise EvallaunchError(
            f"parallelism.pipeline_parallel_size={fixed_pp}: TP {tps[-1]} x PP must fit one node or"
            f" fill whole nodes ({node} GPUs, at most {hw.max_nodes} nodes); valid choices: {valid}"
        )
    return layouts


def _replicas(req: PlanRequest, node: int, gpus_per_replica: int) -> int:
    fill = max(min(req.total_gpus or node, node) // gpus_per_replica, 1)
    return req.data_parallel_size or (1 if req.strategy == "single" else fill)


def _replicas_of(req: PlanRequest, node: int, lay: _Layout) -> int:
    return _replicas(req, node, lay.gpus) if lay.gpus <= node else req.data_parallel_size or 1


def _replicas_fit(req: PlanRequest, node: int, lay: _Layout) -> bool:
    dp = _replicas_of(req, node, lay)
    return dp >= 1 and (dp == 1 or dp * lay.gpus <= node)


def _replica_error(req: PlanRequest, node: int, lay: _Layout) -> EvallaunchError:
    dp = _replicas_of(req, node, lay)
    return EvallaunchError(
        f"parallelism.data_parallel_size={dp}: {dp} replicas of {lay.gpus} GPUs do not fit "
        f"in one node of {node}; valid choices: 1..{max(node // lay.gpus, 1)}"
    )


def _candidate(
    facts: ModelFacts, hw: Hardware, req: PlanRequest, nb: int, lay: _Layout
) -> _Candidate:
    """The layout's replicas, their slots and the modeled job time."""
    dp = _replicas_of(req, hw.gpus_per_node, lay)
    gpu = gpu_spec(hw.gpu_type, hw.hbm_gbps, hw.bf16_tflops)
    kv_bytes = lay.kv_gpu_bytes * lay.gpus
    replica = replica_model(facts, gpu, lay.gpus, nb, kv_bytes_per_token=kv_bytes)
    tokens = expected_new_tokens(req.mean_new_tokens, req.max_new_tokens)
    held = kv_slots(lay.kv_tokens, tokens)
    slots = min(max(engine_slots(lay.kv_tokens, tokens), lay.fit), MAX_ENGINE_SLOTS)
    slots = max(1, min(slots, req.concurrent_sequences))
    requests = req.num_prompts * req.samples_per_prompt
    estimate = estimate_job(replica, dp, slots, lay.kv_tokens, requests, tokens, req.max_new_tokens)
    return _Candidate(lay, dp, slots, held, estimate)


def _fastest(candidates: list[_Candidate], strategy: str) -> _Candidate:
    """The layout of the shortest modeled job (a smaller TP wins within LAYOUT_TOLERANCE);
    strategy "dp": the smallest TP."""
    if strategy == "dp":
        return candidates[0]
    best = min(c.estimate.total_s for c in candidates)
    return next(c for c in candidates if c.estimate.total_s <= best * LAYOUT_TOLERANCE)


def _choose(
    facts: ModelFacts, hw: Hardware, req: PlanRequest, nb: int, layouts: list[_Layout]
) -> _Candidate:
    """In order: one node without pipeline stages, one node with them, the fewest whole
    nodes; within the first two, the fastest layout (`_fastest`)."""
    node = hw.gpus_per_node
    in_node = [x for x in layouts if x.gpus <= node and x.fit >= 1]
    for group in ([x for x in in_node if x.pp == 1], [x for x in in_node if x.pp > 1]):
        placed = [x for x in group if _replicas_fit(req, node, x)]
        if group and not placed:
            raise _replica_error(req, node, group[0])
        if placed:
            return _fastest([_candidate(facts, hw, req, nb, x) for x in placed], req.strategy)
    multi = [x for x in layouts if x.gpus > node and x.fit >= 1]
    if multi:  # extra nodes cost: the fewest that hold at least one sequence
        fewest = min(multi, key=lambda x: x.gpus)
        if not _replicas_fit(req, node, fewest):
            raise _replica_error(req, node, fewest)
        return _candidate(facts, hw, req, nb, fewest)
    big = max(layouts, key=lambda x: x.gpus)
    usable = big.weights_gb + big.budget_gb
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
