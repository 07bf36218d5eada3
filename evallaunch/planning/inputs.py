"""What a plan is made from: the cluster's kind of GPU node and what one job asks for."""

from __future__ import annotations

from dataclasses import dataclass

#: Bytes of one KV-cache element by vLLM's `kv_cache_dtype` (auto: the model's dtype).
KV_CACHE_DTYPE_BYTES = {
    "auto": None,
    "bfloat16": 2,
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
    "fp8_inc": 1,
}


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
    max_num_seqs: int | None = None  # the engines' slots as given (None: planned)
    kv_cache_dtype: str = "auto"  # parallelism.engine_args.kv_cache_dtype
    draft_params: int = 0  # a speculative draft model's parameters (split over the TP ranks)
    notes: tuple[str, ...] = ()  # caveats of the request, passed on to the plan

    def kv_element_bytes(self, weight_bytes: int) -> int:
        """Bytes of one KV-cache element: the kv_cache_dtype's, or the model's dtype's."""
        return KV_CACHE_DTYPE_BYTES.get(self.kv_cache_dtype) or weight_bytes
