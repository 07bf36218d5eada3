"""Structured-config schema: every config group is validated against these dataclasses.

The schema is registered in Hydra's ConfigStore as ``evaluate_schema`` and is the first
entry of ``conf/evaluate.yaml``'s defaults list, so an unknown key, a value of the wrong
type or a missing required value fails while the config is composed, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from evallaunch.config.naming import RESOLVERS


@dataclass
class EndpointConfig:
    """An OpenAI-compatible server someone else runs (vLLM, sglang, TGI, a hosted API):
    the job sends its requests there instead of starting servers (model_type=server)."""

    # Base URL of the OpenAI API, up to and including its version ("http://host:8000/v1",
    # "https://api.openai.com/v1"); null: the job starts its own servers.
    url: str | None = None
    # The `model` field of the requests; null: model.name_or_path (as resolved).
    served_model: str | None = None
    # Name of the environment variable that holds the API key (sent as a Bearer token,
    # never written anywhere); null: no key.
    api_key_env: str | None = None
    # Requests in flight at once; the rest wait in line in the job.
    max_in_flight: int = 32
    # Retries of a request answered 429 or 5xx, or not answered; exponential backoff from
    # retry_backoff_s (with jitter, at most max_backoff_s), or the server's Retry-After.
    max_retries: int = 8
    retry_backoff_s: float = 1.0
    max_backoff_s: float = 60.0


@dataclass
class ModelConfig:
    """A model to evaluate: a Hub id, a local checkpoint, or ``embedded:<name>``."""

    # Hub id ("org/name"), local directory, or "embedded:smollm2-135m-instruct".
    name_or_path: str = MISSING
    # Short name used in output paths; derived from name_or_path unless set.
    name: str = "${el.model_name:}"
    # Hub revision (branch, tag or commit); ignored for local paths.
    revision: str = "main"
    # Output path level below the model name: the revision, or for a local checkpoint
    # directory its name (run7/checkpoint-500 -> model run7, version checkpoint-500).
    version: str = "${el.model_version:}"
    # auto: bfloat16 on GPU, float32 on CPU; or float32 / bfloat16 / float16.
    dtype: str = "auto"
    # Wrap prompts in the tokenizer's chat template.
    chat_template: bool = True
    # Optional system prompt placed before every problem.
    system_prompt: str | None = None
    # Context length (prompt + generation) the backend may use; null = the model's own.
    max_model_length: int | None = None
    trust_remote_code: bool = False
    # Parameter count in billions, when known (used by resource planning and reports).
    params_b: float | None = None
    # Training step and tokens trained of this checkpoint (learning curves): by default
    # the step in the name (checkpoint-500, or the revision), tokens from tokens_per_step
    # or the checkpoint's trainer_state.json.
    step: int | None = "${el.checkpoint_step:}"  # type: ignore[assignment]
    tokens_trained: int | None = "${el.tokens_trained:}"  # type: ignore[assignment]
    # Checkpoint sweep: a glob of local checkpoint dirs (run/checkpoint-*) or a Hub repo
    # whose branches are checkpoints (hf://org/name); expanded into one job per checkpoint.
    checkpoints: str | None = None
    # Which checkpoints: all, latest, every:K (every K-th step), last:N, steps:100,200.
    checkpoint_select: str = "all"
    # Tokens per optimizer step (global batch x sequence length), for tokens_trained.
    tokens_per_step: int | None = None
    # A server that already serves the model (name_or_path then only gives the tokenizer).
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)


@dataclass
class DatasetSource:
    """Where a benchmark's data comes from and how to recognise the local mirror file."""

    # Hub dataset id and split, used by `evallaunch prepare` when online.
    hub_id: str = MISSING
    subset: str | None = None
    split: str = "test"
    revision: str = "main"
    # File name inside `data_dir`: JSON lines, or a zip archive holding a CSV `member`.
    file: str = MISSING
    # For zip archives: the CSV inside, and the archive's password (public for GPQA).
    member: str | None = None
    password: str | None = None
    # Expected sha256 of that file; null skips the check.
    sha256: str | None = None
    # Expected number of rows; null skips the check.
    rows: int | None = None


@dataclass
class BenchmarkConfig:
    """A benchmark: data, prompt, answer format and sampling."""

    name: str = MISSING
    dataset: DatasetSource = field(default_factory=DatasetSource)
    # Field names in the data file.
    id_field: str = "id"
    problem_field: str = "problem"
    answer_field: str = "answer"
    # How rows become prompts: math, multiple_choice or code (see evallaunch.benchmarks.prompts).
    format: str = "math"
    # multiple_choice: fields of the wrong options, and the seed of the option order.
    distractor_fields: list[str] = field(default_factory=list)
    choice_seed: int = 0
    # Keep rows whose date_field lies in [date_from, date_to) (e.g. a LiveCodeBench release).
    date_field: str = "contest_date"
    date_from: str | None = None
    date_to: str | None = None
    # Prompt template; `{problem}` is replaced by the problem text ({A}..{D}: options).
    prompt_template: str = MISSING
    # Scorer applied to each completion: math, integer, choice, code (evallaunch.scoring).
    scorer: str = "math"
    # Samples drawn per problem; pass@1 is averaged over them.
    n: int = 1
    # Only the rows whose fields have these values, e.g. {level: 1} (before `limit`).
    where: dict[str, Any] = field(default_factory=dict)
    # Evaluate only the first `limit` problems (smoke runs); null = all.
    limit: int | None = None
    # Metrics reported, e.g. ["pass@1", "maj@n"].
    metrics: list[str] = field(default_factory=lambda: ["pass@1"])
    # Mean completion tokens of a reasoning model (time estimates; null: a share of the cap).
    mean_new_tokens: int | None = None
    # format=harness (conf/benchmark/harness.yaml): an lm-eval or lighteval task, group or
    # tag by name (the backend picks the harness), run with the harness's own prompts,
    # filters and metrics.
    task: str | None = None
    # A directory of the user's own lm-eval task YAMLs.
    include_path: str | None = None
    # The user's own lighteval tasks: a custom-tasks .py file with a TASKS_TABLE.
    custom_tasks: str | None = None
    # Few-shot examples (null: the task's own number).
    num_fewshot: int | None = None
    # Overrides of the task's generation_kwargs in lm-eval's --gen_kwargs form, e.g.
    # benchmark.gen_kwargs='max_gen_toks=512,temperature=0.6'.
    gen_kwargs: str | None = None
    # Remove a reasoning model's <think>...</think> before the harness's filters and metrics.
    strip_think: bool = False
    # Consent to run the model's programs (harness code tasks: humaneval, mbpp, lcb), each
    # in evallaunch's sandbox; without it such a task refuses to start.
    allow_code_execution: bool = False


@dataclass
class GenerationConfig:
    """Sampling settings shared by every backend (the DeepSeek-R1 recipe by default)."""

    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 32768
    seed: int = 1234


@dataclass
class SamplingConfig:
    """How the samples of a job are drawn: in units, each recorded in the job's sample
    ledger as soon as it is generated, so that a rerun draws only what is missing."""

    # Problems per generation unit (0: all problems in one unit; auto: enough sequences to
    # keep every engine replica's slots full, at least 32 problems).
    problems_per_unit: int | str = "auto"
    # Samples per problem per unit (0: all benchmark.n at once). Smaller units lose less
    # work to a preemption; larger ones batch better on GPUs.
    samples_per_unit: int = 16
    # Units generated at once (auto: 2 when the job talks to inference servers, so the next
    # unit's requests reach the engines before the last one drains; 1 in-process).
    units_in_flight: int | str = "auto"
    # Reuse the samples an interrupted run of the same config recorded in its ledger.
    resume: bool = True
    # Adaptive sampling: benchmark.n becomes a budget (the most samples a problem gets); a
    # problem stops drawing samples once adaptive_rule says so (checked after every round
    # of samples_per_unit samples, from min_samples on).
    adaptive: bool = False
    # interval: once the 95% Wilson interval of its pass@1 is narrower than ci_width.
    # neyman: once it has lambda x sqrt(p (1 - p) / cost) samples (p its pass rate, cost its
    # mean completion tokens, both estimated so far), lambda set so that the benchmark's
    # pass@1 varies from seed to seed as little as in a fixed run of match_n samples per
    # problem, for fewer tokens (docs/adaptive-sampling.md).
    adaptive_rule: str = "interval"
    ci_width: float = 0.2
    min_samples: int = 4
    # neyman: the samples per problem of the fixed run whose precision to match (required
    # with adaptive_rule=neyman, at most benchmark.n; a budget of about 2 x match_n lets the
    # most uncertain problems draw what they need).
    match_n: int | None = None


@dataclass
class ServerConfig:
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
class BackendConfig:
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
class ParallelismConfig:
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
class LaunchConfig:
    """How a sweep is submitted (used by the evallaunch launchers)."""

    # Print each array's sbatch script and the job table; submit nothing.
    dry_run: bool = False
    # Rerun jobs whose complete results already exist with the same config fingerprint
    # (locally, or in the published table).
    force: bool = False
    # A results table `collect` published: jobs already in it are skipped. A Hub dataset
    # (hf://datasets/ORG/NAME), an http(s) URL or a local parquet/CSV file.
    published: str | None = None
    # Benchmarks of the same model in one job (one allocation), one after another on the
    # same inference servers (each replica's engine loads once). auto: one
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
class PathsConfig:
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
class SuiteMember:
    """One benchmark of a suite: an evallaunch benchmark (conf/benchmark/) or, with
    `benchmark: harness`, a harness task; `overrides` of its own (e.g. backend=lmeval)."""

    benchmark: str = MISSING
    task: str | None = None
    overrides: list[str] = field(default_factory=list)


@dataclass
class SuiteConfig:
    """A suite (conf/suite/): the benchmarks one sweep runs, and how `collect` aggregates
    them into rows benchmark="group:<name>" (macro: the mean of their headline scores;
    weighted: weighted by their problems)."""

    name: str = MISSING
    members: list[SuiteMember] = field(default_factory=list)
    aggregate: list[str] = field(default_factory=lambda: ["macro", "weighted"])


@dataclass
class EvaluateConfig:
    """The composed configuration of one evaluation job."""

    model: ModelConfig = field(default_factory=ModelConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    parallelism: ParallelismConfig = field(default_factory=ParallelismConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    launch: LaunchConfig = field(default_factory=LaunchConfig)
    # A suite to sweep (`--multirun suite=NAME`): one job per member.
    suite: SuiteConfig | None = None
    # Experiment name: the first level of the output tree.
    experiment_name: str = "default"
    # Set HF_HUB_OFFLINE=1 (and the datasets/transformers equivalents) for the job.
    offline: bool = True
    # Print the harnesses' own logging and progress bars on the terminal too (they always
    # go to the job's evaluate.log); evallaunch's progress and the results table always show.
    verbose: bool = False


def unknown_keys(cfg: Any, prefix: str = "") -> list[tuple[str, list[str]]]:
    """Keys that a `+key=value` override added under a schema section (Hydra's `+` adds keys
    even to structured configs), each with the section's known keys; the free-form
    mappings (e.g. backend.model_args) take any key."""
    found: list[tuple[str, list[str]]] = []
    if isinstance(cfg, ListConfig):
        for index, item in enumerate(cfg):
            found += unknown_keys(item, f"{prefix}{index}.")
        return found
    if not isinstance(cfg, DictConfig) or cfg._is_none() or cfg._is_missing():
        return found
    kind = OmegaConf.get_type(cfg)
    known = [f.name for f in fields(kind)] if kind is not None and is_dataclass(kind) else None
    for key in map(str, cfg):
        if key == "hydra" and not prefix:  # Hydra's own, in a sweep's job configs
            continue
        if known is not None and key not in known:
            found.append((f"{prefix}{key}", [f"{prefix}{name}" for name in known]))
        elif known is not None:
            found += unknown_keys(cfg._get_node(key), f"{prefix}{key}.")
    return found


def missing_keys(cfg: Any) -> list[str]:
    """Required values (`???`) that are still unset, as dotted keys."""
    return sorted(OmegaConf.missing_keys(cfg))


def register() -> None:
    """Register the schema and evallaunch's resolvers with Hydra and OmegaConf (idempotent)."""
    for name, resolver in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_resolver(name, resolver)
    store = ConfigStore.instance()
    if "evaluate_schema.yaml" not in store.repo:
        store.store(name="evaluate_schema", node=EvaluateConfig)


register()
