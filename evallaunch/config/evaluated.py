"""Schema sections of what a job evaluates and how it samples: the model (and its
endpoint), the benchmark (and its data), generation and sampling. Every section is
`Frozen`: the job's spec (`evallaunch.config.spec.job_spec`) is frozen once built, while
Hydra composes into unfrozen instances as before."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from evallaunch.config.frozen import Frozen


@dataclass
class EndpointConfig(Frozen):
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
class ModelConfig(Frozen):
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
class DatasetSource(Frozen):
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
class BenchmarkConfig(Frozen):
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
class GenerationConfig(Frozen):
    """Sampling settings shared by every backend (the DeepSeek-R1 recipe by default)."""

    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 32768
    seed: int = 1234


@dataclass
class SamplingConfig(Frozen):
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
