"""Schema sections of how and where a job runs: the backend (and its servers), the
parallelism, the launch, the paths and the suite. `Frozen` as evallaunch.config.evaluated's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from evallaunch.config.frozen import Frozen


@dataclass
class ServerConfig(Frozen):
    """Inference servers a job starts when `backend.model_type=server`."""

    # auto: one server per engine replica of the plan (parallelism.data_parallel_size).
    num_servers: int | str = 1
    # Command template; {port}, {model_path}, {tensor_parallel_size}, {data_parallel_size},
    # {max_model_length} and {vllm_engine_args} (the plan's engine settings as vLLM flags)
    # are filled in per server (Python str.format fields).
    command: str = (
        "vllm serve {model_path} --host {host} --port {port}"
        " --tensor-parallel-size {tensor_parallel_size}"
        " --data-parallel-size {data_parallel_size} --max-model-len {max_model_length}"
    )
    health_path: str = "/health"
    startup_timeout_s: float = 900.0
    # First port; server i listens on base_port + i, the load balancer on base_port - 1.
    base_port: int = 18100
    # Retries of a failed request on another server.
    max_retries: int = 3


@dataclass
class BackendConfig(Frozen):
    """The evaluation harness that runs the model; `_target_` names its class."""

    _target_: str = MISSING
    name: str = MISSING
    # transformers: in-process Hugging Face model (CPU default); vllm: in-process vLLM;
    # server: the job starts OpenAI-compatible servers and talks to them over HTTP.
    model_type: str = "transformers"
    batch_size: int = 1
    # auto: cuda when available, else cpu.
    device: str = "auto"
    # Extra keyword arguments for the harness's model constructor.
    model_args: dict[str, Any] = field(default_factory=dict)
    # Used when model_type=server.
    server: ServerConfig = field(default_factory=ServerConfig)


@dataclass
class ParallelismConfig(Frozen):
    """How the model is spread over GPUs; null sizes are chosen by the planner."""

    # auto (plan from memory arithmetic), single (one GPU), tp (all GPUs of a node as one
    # tensor-parallel replica), dp (smallest fitting replica, node filled with replicas).
    name: str = "single"
    tensor_parallel_size: int | None = None
    data_parallel_size: int | None = None
    pipeline_parallel_size: int | None = None
    # Fraction of GPU memory vLLM may use (weights + KV cache).
    gpu_memory_utilization: float = 0.9
    # Sequences each vLLM engine runs at once (null: the plan's, from the KV-cache budget).
    max_num_seqs: int | None = None
    # Run vLLM without CUDA graphs (slower decoding; for debugging).
    enforce_eager: bool = False
    # Any other vLLM engine argument, as `vllm.LLM(**engine_args)` takes it and given as
    # `vllm serve` flags to the job's replicas (e.g. enable_prefix_caching: true,
    # kv_cache_dtype: fp8, speculative_config: {method: ngram, num_speculative_tokens: 4}).
    engine_args: dict[str, Any] = field(default_factory=dict)
    # vLLM's environment variables for the engines (VLLM_*, e.g. VLLM_BATCH_INVARIANT: 1),
    # set for in-process engines and the replicas alike.
    engine_env: dict[str, Any] = field(default_factory=dict)
    # Nodes of one replica (null: one, or as planned): with more, the job's Slurm tasks
    # start a Ray cluster per replica and vLLM runs pipeline parallel across its nodes.
    nodes_per_replica: int | None = None
    # Seconds to wait for every node of a replica to join its Ray cluster.
    ray_join_timeout_s: int = 600


@dataclass
class LaunchConfig(Frozen):
    """How a sweep is submitted (used by the evallaunch launchers)."""

    # Print each array's sbatch script and the job table; submit nothing.
    dry_run: bool = False
    # Rerun jobs whose complete results already exist with the same config fingerprint
    # (locally, or in the published table).
    force: bool = False
    # A results table `collect` published: jobs already in it are skipped. A Hub dataset
    # (hf://datasets/ORG/NAME), an http(s) URL or a local parquet/CSV file.
    published: str | None = None
    # Benchmarks of the same model in one job (one allocation), at the same time on the
    # same inference servers: one engine load per replica, every benchmark's requests in
    # one queue. auto: one
    # job per model when that saves GPU-hours and fits the cluster's time limit
    # (evallaunch.planning.batching); a number: batches of that many.
    benchmarks_per_job: int | str = "auto"
    # Requeues allowed after a time-out or preemption.
    max_requeues: int = 3
    # Freeze the code at submit time (a copy of the repository in the sweep dir).
    snapshot: bool = True
    # Wait for the jobs to finish (false: submit, print the table and return;
    # follow them with `evallaunch status`).
    wait: bool = True


@dataclass
class PathsConfig(Frozen):
    """Where evallaunch reads data and writes results and caches."""

    # Root of all job output directories.
    output_root: str = "outputs"
    # Local benchmark mirror (filled by `evallaunch prepare`).
    data_dir: str = MISSING
    # Converted embedded models and other caches.
    cache_dir: str = MISSING
    # The umask of every file a job writes (e.g. "027": group-readable, "007": group-
    # writable, "077": private); null: the process's own, as `open()` would.
    umask: str | None = None


@dataclass
class SuiteMember(Frozen):
    """One benchmark of a suite: an evallaunch benchmark (conf/benchmark/) or, with
    `benchmark: harness`, a harness task; `overrides` of its own (e.g. backend=lmeval)."""

    benchmark: str = MISSING
    task: str | None = None
    overrides: list[str] = field(default_factory=list)


@dataclass
class SuiteConfig(Frozen):
    """A suite (conf/suite/): the benchmarks one sweep runs, and how `collect` aggregates
    them into rows benchmark="group:<name>" (macro: the mean of their headline scores;
    weighted: weighted by their problems)."""

    name: str = MISSING
    members: list[SuiteMember] = field(default_factory=list)
    aggregate: list[str] = field(default_factory=lambda: ["macro", "weighted"])
