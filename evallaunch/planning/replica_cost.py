"""Cost model of one continuous-batching engine replica (vLLM) on one kind of GPU: the
seconds of a decode step, a prefill and the replica's start (`ReplicaModel`), from the GPU's
peak figures (`GpuSpec`) and the model's facts (`replica_model`); the job's time on its
replicas is `evallaunch.planning.throughput`'s.

One replica spreads the model over ``gpus`` = tensor x pipeline parallel GPUs. A decode step
of b running sequences holding K tokens of KV cache takes

    memory  = (weight bytes + K x KV bytes per token) / gpus / (HBM bandwidth x MEMORY_EFFICIENCY)
    compute = (2 x active params x b + 4 x layers x attention width x K)
              / (gpus x peak bf16 FLOP/s x DECODE_MFU)
    comm    = layers x (TP_LAYER_S + 2 all-reduces of b x hidden x 2 bytes, each moving
              2 (gpus - 1) / gpus of it at ALLREDUCE_GBPS) when gpus > 1
    gpu     = max(memory, compute) + comm
    launch  = layers x (EAGER_LAYER_S in eager mode or above GRAPH_MAX_BATCH sequences,
              GRAPH_LAYER_S with CUDA graphs)
    step    = STEP_BASE_S + STEP_PER_SEQUENCE_S x b + max(gpu, launch)

and yields b tokens: kernels are launched while earlier ones run, so the host's launch time
only costs where it exceeds the GPU's work (small batches, deep models, eager mode); the
scheduler and sampler run between steps. Prefilling p prompt tokens costs (2 x active params
x p + 2 x layers x attention width x p^2) / (gpus x peak x PREFILL_MFU). Starting a replica
costs ENGINE_INIT_S + its share of the weights read at LOAD_GBPS + compilation and CUDA
graph capture (not in eager mode) + RAY_START_S on the harnesses' Ray data-parallel path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evallaunch.planning.model_facts import ModelFacts

GB = 1e9
MEMORY_EFFICIENCY = 0.9  # share of peak HBM bandwidth a decode step achieves: calibrated
DECODE_MFU = 0.5  # share of peak FLOP/s of decode GEMMs (batch x hidden)
PREFILL_MFU = 0.5
STEP_BASE_S = 2.0e-3  # scheduler, sampler, output processing per step
STEP_PER_SEQUENCE_S = 10e-6  # bookkeeping per running sequence per step
GRAPH_LAYER_S = 10e-6  # host time per layer per step with CUDA graphs (graph replay)
EAGER_LAYER_S = 250e-6  # host time per layer per step in eager mode (~15 kernels): calibrated
TP_LAYER_S = 30e-6  # latency of two all-reduces per layer when a replica spans GPUs
ALLREDUCE_GBPS = 250.0  # NCCL bus bandwidth of MB-sized all-reduces over NVLink (H100: ~450 peak)
ENGINE_INIT_S = 25.0  # process start, imports, tokenizer, memory profiling, KV allocation
LOAD_GBPS = 2.0  # weights read per GPU (each rank reads its shard)
COMPILE_BASE_S = 20.0  # torch.compile + CUDA graph capture: fixed part
COMPILE_PER_LAYER_S = 0.4  # ... and per layer
RAY_START_S = 20.0  # ray.init and the data-parallel workers (harnesses' DP path)
GRAPH_MAX_BATCH = 512  # vLLM's largest captured CUDA graph; larger batches run without one


@dataclass(frozen=True)
class GpuSpec:
    """Peak figures of one GPU (vendor datasheets, SXM parts, dense bf16)."""

    name: str
    hbm_gbps: float
    bf16_tflops: float


GPU_SPECS = {
    "H100-80GB": GpuSpec("H100-80GB", hbm_gbps=3350.0, bf16_tflops=989.0),
    "A100-80GB": GpuSpec("A100-80GB", hbm_gbps=2039.0, bf16_tflops=312.0),
    "H200": GpuSpec("H200", hbm_gbps=4800.0, bf16_tflops=989.0),
}


def gpu_spec(
    gpu_type: str, hbm_gbps: float | None = None, bf16_tflops: float | None = None
) -> GpuSpec:
    """The GPU_SPECS entry whose family ("H100", "A100", "H200") the name contains (H100's
    figures for an unknown GPU), with the given figures replacing the table's."""
    text = gpu_type.upper()
    base = next(
        (spec for key, spec in GPU_SPECS.items() if key.split("-")[0] in text),
        GPU_SPECS["H100-80GB"],
    )
    return GpuSpec(
        name=gpu_type or base.name,
        hbm_gbps=float(hbm_gbps or base.hbm_gbps),
        bf16_tflops=float(bf16_tflops or base.bf16_tflops),
    )


@dataclass(frozen=True)
class ReplicaModel:
    """Cost model of one engine replica (see the module docstring)."""

    gpu: GpuSpec
    gpus: int
    weight_bytes: float
    kv_bytes_per_token: float
    active_params: float
    layers: int
    attention_width: int
    cuda_graphs: bool = True
    hidden_size: int = 4096

    def step_lines(self, batch: int) -> tuple[float, tuple[tuple[float, float], ...]]:
        """(fixed part, lines (a, b)) of a step of `batch` sequences holding K KV tokens:
        step(K) = fixed + max over the lines of a + b x K (memory, compute, host launch)."""
        bandwidth = self.gpus * self.gpu.hbm_gbps * GB * MEMORY_EFFICIENCY
        flops = self.gpus * self.gpu.bf16_tflops * 1e12 * DECODE_MFU
        comm = 0.0
        if self.gpus > 1:
            moved = 2 * batch * self.hidden_size * 2 * 2 * (self.gpus - 1) / self.gpus
            comm = self.layers * (TP_LAYER_S + moved / (ALLREDUCE_GBPS * GB))
        graphs = self.cuda_graphs and batch <= GRAPH_MAX_BATCH
        launch = self.layers * (GRAPH_LAYER_S if graphs else EAGER_LAYER_S)
        memory = (comm + self.weight_bytes / bandwidth, self.kv_bytes_per_token / bandwidth)
        compute = (
            comm + 2 * self.active_params * batch / flops,
            4 * self.layers * self.attention_width / flops,
        )
        return STEP_BASE_S + STEP_PER_SEQUENCE_S * batch, (memory, compute, (launch, 0.0))

    def decode_step_s(self, batch: int, kv_tokens: float) -> float:
        """Seconds of one decode step of `batch` sequences holding `kv_tokens` tokens."""
        fixed, lines = self.step_lines(batch)
        return fixed + max(a + b * kv_tokens for a, b in lines)

    def prefill_s(self, tokens: float) -> float:
        """Seconds to prefill `tokens` tokens of one sequence (compute-bound)."""
        flops = 2 * self.active_params * tokens + 2 * self.layers * self.attention_width * tokens**2
        return flops / (self.gpus * self.gpu.bf16_tflops * 1e12 * PREFILL_MFU)

    def start_s(self, ray: bool = False) -> float:
        """Seconds from launch to the first token: init, weights, graphs, Ray."""
        seconds = ENGINE_INIT_S + self.weight_bytes / self.gpus / (LOAD_GBPS * GB)
        if self.cuda_graphs:
            seconds += COMPILE_BASE_S + COMPILE_PER_LAYER_S * self.layers
        return seconds + (RAY_START_S if ray else 0.0)


def replica_model(
    facts: ModelFacts,
    gpu: GpuSpec,
    gpus: int,
    dtype_bytes: int = 2,
    cuda_graphs: bool = True,
    kv_bytes_per_token: float | None = None,
) -> ReplicaModel:
    """The cost model of one replica of `facts` spread over `gpus` GPUs; `kv_bytes_per_token`:
    the KV bytes a token takes on all of them (more than the model's when TP exceeds the KV
    heads and vLLM replicates them; None: the model's)."""
    from evallaunch.planning.model_facts import kv_cache_bytes_per_token

    heads, head_dim = facts.num_attention_heads, facts.head_dim
    width = heads * head_dim if heads and head_dim else facts.hidden_size or 4096
    kv = kv_bytes_per_token or kv_cache_bytes_per_token(facts, dtype_bytes)
    return ReplicaModel(
        gpu=gpu,
        gpus=max(gpus, 1),
        weight_bytes=float(facts.num_params * dtype_bytes),
        kv_bytes_per_token=float(kv),
        active_params=float(facts.num_active_params),
        layers=facts.num_layers or 32,
        attention_width=width,
        cuda_graphs=cuda_graphs,
        hidden_size=facts.hidden_size or width,
    )
