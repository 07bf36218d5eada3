"""The layouts a job may take (TP x PP, with DP replicas filling the node) and the choice
among them; the memory arithmetic and the rules are in evallaunch.planning.planner's
docstring."""

from __future__ import annotations

from dataclasses import dataclass

from evallaunch.errors import EvallaunchError
from evallaunch.planning.inputs import Hardware, PlanRequest
from evallaunch.planning.model_facts import ModelFacts, kv_cache_bytes_per_token
from evallaunch.planning.replica_cost import gpu_spec, replica_model
from evallaunch.planning.throughput import (
    MAX_ENGINE_SLOTS,
    JobEstimate,
    engine_slots,
    estimate_job,
    expected_new_tokens,
    kv_slots,
)

GB = 1e9
RESERVE_FIXED_GB = 2.0
RESERVE_FRACTION = 0.02
LAYOUT_TOLERANCE = 1.02  # a smaller TP wins when its modeled job takes at most 2% longer


@dataclass(frozen=True)
class Layout:
    """Tensor x pipeline sizes of one replica with its memory per GPU."""

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
class Candidate:
    """A layout with its replicas, engine slots and modeled job time."""

    layout: Layout
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


def _layout(
    facts: ModelFacts, tp: int, pp: int, nb: int, usable: float, req: PlanRequest
) -> Layout:
    weights = (facts.num_params / (tp * pp) + req.draft_params / tp) * nb / GB
    kvb, length = req.kv_element_bytes(nb), req.max_model_length
    if facts.num_layers and facts.num_kv_heads and facts.head_dim:
        layers, kv = -(-facts.num_layers // pp), -(-facts.num_kv_heads // tp)
        per_token = 2 * layers * kv * facts.head_dim * kvb
    else:  # name-only facts: the estimate, split evenly
        per_token = -(-kv_cache_bytes_per_token(facts, kvb) // (tp * pp))
    fit = int((usable - weights) * GB // (per_token * length)) if usable > weights else 0
    return Layout(tp, pp, weights, usable - weights, fit, float(per_token))


def layouts(facts: ModelFacts, hw: Hardware, req: PlanRequest, nb: int) -> list[Layout]:
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
            f"{facts.num_attention_heads} attention heads, {facts.num_kv_heads} KV heads: vLLM "
            f"needs a size dividing both); valid choices: {choices}"
        )
    tps = [t for t in choices if t & (t - 1) == 0]  # powers of two
    tps = [fixed_tp] if fixed_tp else {"single": tps[:1], "tp": tps[-1:]}.get(req.strategy, tps)
    layers = facts.num_layers or limit
    pps = [fixed_pp] if fixed_pp else range(1, 2 if req.strategy == "single" else layers + 1)
    layouts = [
        _layout(facts, t, p, nb, usable, req)
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


def _replicas_of(req: PlanRequest, node: int, lay: Layout) -> int:
    return _replicas(req, node, lay.gpus) if lay.gpus <= node else req.data_parallel_size or 1


def _replicas_fit(req: PlanRequest, node: int, lay: Layout) -> bool:
    dp = _replicas_of(req, node, lay)
    return dp >= 1 and (dp == 1 or dp * lay.gpus <= node)


def _replica_error(req: PlanRequest, node: int, lay: Layout) -> EvallaunchError:
    dp = _replicas_of(req, node, lay)
    return EvallaunchError(
        f"parallelism.data_parallel_size={dp}: {dp} replicas of {lay.gpus} GPUs do not fit "
        f"in one node of {node}; valid choices: 1..{max(node // lay.gpus, 1)}"
    )


def _candidate(
    facts: ModelFacts, hw: Hardware, req: PlanRequest, nb: int, lay: Layout
) -> Candidate:
    """The layout's replicas, their slots and the modeled job time."""
    dp = _replicas_of(req, hw.gpus_per_node, lay)
    gpu = gpu_spec(hw.gpu_type, hw.hbm_gbps, hw.bf16_tflops)
    kv_bytes = lay.kv_gpu_bytes * lay.gpus
    replica = replica_model(facts, gpu, lay.gpus, nb, kv_bytes_per_token=kv_bytes)
    tokens = expected_new_tokens(req.mean_new_tokens, req.max_new_tokens)
    held = kv_slots(lay.kv_tokens, tokens)
    slots = min(max(engine_slots(lay.kv_tokens, tokens), lay.fit), MAX_ENGINE_SLOTS)
    slots = req.max_num_seqs or max(1, min(slots, req.concurrent_sequences))
    requests = req.num_prompts * req.samples_per_prompt
    estimate = estimate_job(replica, dp, slots, lay.kv_tokens, requests, tokens, req.max_new_tokens)
    return Candidate(lay, dp, slots, held, estimate)


def _fastest(candidates: list[Candidate], strategy: str) -> Candidate:
    """The layout of the shortest modeled job (a smaller TP wins within LAYOUT_TOLERANCE);
    strategy "dp": the smallest TP."""
    if strategy == "dp":
        return candidates[0]
    best = min(c.estimate.total_s for c in candidates)
    return next(c for c in candidates if c.estimate.total_s <= best * LAYOUT_TOLERANCE)


def choose(
    facts: ModelFacts, hw: Hardware, req: PlanRequest, nb: int, layouts: list[Layout]
) -> Candidate:
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
        dp, per_replica = _replicas_of(req, node, fewest), fewest.gpus // node
        if dp * per_replica > hw.max_nodes:
            raise EvallaunchError(
                f"parallelism.data_parallel_size={dp} is invalid: {dp} replicas of "
                f"{per_replica} nodes each need {dp * per_replica} nodes, and the partition "
                f"has {hw.max_nodes} (hardware.max_nodes)",
                hint=f"valid choices: 1..{max(hw.max_nodes // per_replica, 1)}",
            )
        return _candidate(facts, hw, req, nb, fewest)
    big = max(layouts, key=lambda x: x.gpus)
    usable = big.weights_gb + big.budget_gb
    seq_gb = kv_cache_bytes_per_token(facts, req.kv_element_bytes(nb)) * req.max_model_length / GB
    raise EvallaunchError(
        f"{facts.name} does not fit: {facts.num_params * nb / GB:.1f} GB of weights in {req.dtype}"
        f" + {seq_gb:.2f} GB of KV cache per {req.max_model_length}-token sequence; a "
        f"{hw.gpu_memory_gb:g} GB {hw.gpu_type} has {usable:.1f} GB usable, {node} per node, at "
        f"most {hw.max_nodes} node(s); tried up to TP {big.tp} x PP {big.pp}",
        hint="use bfloat16, a shorter model.max_model_length, more nodes or larger GPUs",
    )
