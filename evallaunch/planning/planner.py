"""Turn a model's facts and the cluster's hardware into a vLLM parallelism plan and Slurm resources.

Per GPU (GB = 1e9 bytes): usable = gpu_memory_gb x gpu_memory_utilization - reserve, reserve =
2 GB (CUDA context, NCCL, CUDA graphs) + 2% of gpu_memory_gb (activation peak), so 80 GB at 0.9
leaves 68.4 GB; weights = num_params x dtype bytes / (tp x pp); KV per token = 2 x ceil(layers
/ pp) x ceil(kv_heads / tp) x head_dim x KV bytes (the kv_cache_dtype's: fp8 1, else the
model's dtype); a speculative draft model adds its weights / tp. usable - weights is the KV
budget. TP divides the heads, and KV heads divide TP or TP them (vLLM replicates them). A
layout fits when a replica holds one full-length (max_model_length) sequence, as vLLM requires
at start.

The engine's slots (``max_num_seqs``): vLLM allocates KV blocks as sequences grow, so a replica
runs `throughput.engine_slots` sequences: SLOT_MARGIN x what its cache holds at the expected
context (the benchmark's mean completion), at most the job's requests; ``sequences_that_fit``
keeps the full-length count; parallelism.max_num_seqs, when given, is the slots. Single-node
replicas fill the node (dp). Groups of layouts, in order: (1) pp = 1, tp = 1, 2, 4... in one
node; (2) pp > 1 in one node at the largest tp; (3) pp over the fewest whole nodes that hold
one sequence. Within (1) and (2) the layout of the shortest modeled job wins
(`throughput.estimate_job`: for a large job, the node's tokens/s = replicas x one replica's
tokens/s at its slots), a smaller tp within LAYOUT_TOLERANCE; strategy "dp": the smallest tp
that fits, "tp": the largest, "single": one GPU; explicit sizes win.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.planning.inputs import KV_CACHE_DTYPE_BYTES, Hardware, PlanRequest
from evallaunch.planning.layouts import Candidate, choose, layouts
from evallaunch.planning.model_facts import ModelFacts, kv_cache_bytes_per_token

SAFETY_FACTOR = 1.5  # margin of the estimate (and time limit) over the throughput model
TIME_STEP_MIN = 30
STRATEGIES = ("auto", "single", "tp", "dp")
DTYPE_BYTES = {"auto": 2, "bfloat16": 2, "float16": 2, "float32": 4}
GB = 1e9


@dataclass(frozen=True)
class Plan:
    """A parallelism layout with its memory arithmetic, time estimate and Slurm resources."""

    tp: int
    dp: int
    pp: int
    gpus_per_replica: int
    total_gpus: int
    nodes: int
    nodes_per_replica: int
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
    #: Minutes from launch to the first token of one replica (weights, graphs): what one
    #: job instead of several saves per benchmark (launch.benchmarks_per_job).
    engine_start_min: float = 0.0

    def vllm_args(self) -> dict[str, Any]:
        """Keyword arguments for vLLM's engine (``vllm.LLM`` / lighteval's vLLM model config)."""
        sizes = {"tensor_parallel_size": self.tp, "data_parallel_size": self.dp}
        names = ("gpu_memory_utilization", "max_num_seqs", "max_model_len", "dtype")
        return {**sizes, "pipeline_parallel_size": self.pp, **{n: getattr(self, n) for n in names}}

    def parallelism_sizes(self) -> dict[str, int]:
        """The `parallelism` settings the plan decides: a job takes those it leaves null."""
        return {
            "tensor_parallel_size": self.tp,
            "data_parallel_size": self.dp,
            "pipeline_parallel_size": self.pp,
            "max_num_seqs": self.max_num_seqs,
            "nodes_per_replica": self.nodes_per_replica,
        }

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
    best = choose(facts, hardware, request, nbytes, layouts(facts, hardware, request, nbytes))
    return _plan_of(facts, hardware, request, best)


def _check_request(req: PlanRequest) -> None:
    if req.dtype not in DTYPE_BYTES:
        raise EvallaunchError(f"model.dtype={req.dtype!r}; valid choices: {tuple(DTYPE_BYTES)}")
    if req.strategy not in STRATEGIES:
        raise EvallaunchError(f"parallelism.name={req.strategy!r}; valid choices: {STRATEGIES}")
    if req.kv_cache_dtype not in KV_CACHE_DTYPE_BYTES:
        raise EvallaunchError(
            f"parallelism.engine_args.kv_cache_dtype={req.kv_cache_dtype} is invalid; valid "
            f"choices: {', '.join(KV_CACHE_DTYPE_BYTES)}"
        )
    if min(req.max_model_length, req.concurrent_sequences) < 1:
        raise EvallaunchError("max_model_length and concurrent_sequences must be positive")


def _plan_of(facts: ModelFacts, hw: Hardware, req: PlanRequest, best: Candidate) -> Plan:
    lay, dp, notes = best.layout, best.dp, [*facts.notes, *req.notes]
    gpr, node = lay.gpus, hw.gpus_per_node
    per_replica, per_node = max(gpr // node, 1), min(dp * gpr, node)
    nodes = per_replica * dp if per_replica > 1 else 1
    if req.total_gpus and req.total_gpus != dp * gpr:
        notes.append(f"total_gpus={req.total_gpus}: using {dp * gpr} (whole replicas, one node)")
    if per_replica > 1:
        notes.append(
            f"pipeline parallel over {per_replica} nodes per replica: a Ray cluster per "
            f"replica, {dp} x {per_replica} nodes"
        )
    if req.max_num_seqs and best.slots > max(best.held, 1):
        notes.append(
            f"parallelism.max_num_seqs={best.slots}: a replica's KV cache holds {best.held} "
            "sequences at the expected context; vLLM preempts the others"
        )
    elif best.slots > lay.fit:
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
        nodes_per_replica=per_replica,
        gpus_per_node=per_node,
        gpu_memory_utilization=req.gpu_memory_utilization,
        weights_gb_per_gpu=round(lay.weights_gb, 2),
        kv_bytes_per_token=kv_cache_bytes_per_token(
            facts, req.kv_element_bytes(DTYPE_BYTES[req.dtype])
        ),
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
        engine_start_min=round(best.estimate.start_s / 60, 2),
    )


def open_r1_rule(facts: ModelFacts) -> dict[str, int]:
    """open-r1's GPU choice, for comparison (``open_r1/utils/hub.py`` and ``evaluation.py``).

    GPUs = the largest of 8, 4, 2, 1 dividing both the attention heads and 64; tensor parallel
    over them for models of 30e9 parameters or more, data parallel otherwise.
    """
    gpus = next(g for g in (8, 4, 2, 1) if (facts.num_attention_heads or 64) % g == 0)
    tensor = facts.num_params >= 30e9
    return {"gpus": gpus, "tp": gpus if tensor else 1, "dp": 1 if tensor else gpus}
