"""The small interface every evaluation backend implements, and the types it shares."""

from __future__ import annotations

import abc
import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evallaunch.benchmarks.problem import Problem
from evallaunch.config.running import BackendConfig
from evallaunch.engines.settings import DEFAULT_SLOTS, EngineSettings, vllm_cpu_environment
from evallaunch.errors import EvallaunchError, require
from evallaunch.scoring.registry import Scorer, get_scorer

#: Request header naming the unit of work a request belongs to (the job's load balancer
#: records it per request).
UNIT_HEADER = "X-Evallaunch-Unit"


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs to sample completions for one benchmark."""

    benchmark: str
    problems: list[Problem]
    model_path: str
    revision: str | None
    dtype: str
    device: str
    chat_template: bool
    system_prompt: str | None
    max_model_length: int | None
    trust_remote_code: bool
    n: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    work_dir: Path
    # Scorer name (benchmark.scorer), see evallaunch.scoring.registry.
    scorer: str = "math"
    # The job's engines (replicas, each one's parallel sizes and vLLM settings).
    engine: EngineSettings = EngineSettings()
    # The OpenAI-compatible base URL (".../v1") of the job's inference servers (their load
    # balancer) when it talks to servers, set by evallaunch.serving.job_servers.inference_servers.
    base_url: str | None = None
    # The `model` field of those requests (model.endpoint.served_model); None: model_path.
    served_model: str | None = None
    # The unit being generated (sent to the servers as the X-Evallaunch-Unit header); in a
    # job's request, the scope its units' names get at the servers (a balancer may serve
    # several jobs of a batch).
    unit: str = ""
    # The unit's problems as JSON lines, for the harness to read (written for each unit by
    # evallaunch.job.units.run_unit; a whole job's request has none).
    problems_file: Path | None = None

    @property
    def data_file(self) -> Path:
        """The unit's problems file (`problems_file`), which only a unit's request has."""
        if self.problems_file is None:
            raise ValueError("only the request of one unit has a problems file")
        return self.problems_file


@dataclass(frozen=True)
class Completion:
    """One sampled completion of one problem."""

    problem_id: str
    sample_index: int
    prompt: str
    completion: str
    # "stop" (ended by itself) or "length" (cut off at max_new_tokens): `finish_reason_of`.
    finish_reason: str
    num_tokens: int | None = None

    @property
    def cut_off(self) -> bool:
        """Cut off at max_new_tokens (such a completion never counts as correct)."""
        return self.finish_reason == "length"


def finish_reason_of(num_tokens: int, max_new_tokens: int, told: str | None = None) -> str:
    """A completion's finish reason: "length" when it was cut off at max_new_tokens, else
    "stop"; as the engine told (`told`, an OpenAI answer's finish_reason) when it did,
    otherwise from its number of tokens."""
    if told:
        return "length" if told == "length" else "stop"
    return "length" if num_tokens >= max_new_tokens else "stop"


@dataclass
class BackendOutput:
    """What a backend returns: completions plus the metrics it computed itself."""

    completions: list[Completion]
    # The backend's own aggregate metrics, e.g. {"pass@1": 0.4}, stored beside evallaunch's.
    metrics: dict[str, float] = field(default_factory=dict)


#: backend.model_type choices: in-process transformers (CPU default), in-process vLLM, or
#: OpenAI-compatible servers the job starts (evallaunch.serving.job_servers).
MODEL_TYPES = ("transformers", "vllm", "server")


class Backend(abc.ABC):
    """An evaluation harness that samples completions from a model.

    Backends are selected by the `_target_` of the `backend` config group and built with
    the remaining keys of that group as keyword arguments.
    """

    #: Python packages whose versions are recorded in results.json.
    packages: tuple[str, ...] = ()
    #: The module the backend needs, and the evallaunch extra that installs it.
    requires: tuple[str, str] = ("", "")

    def __init__(
        self,
        name: str,
        model_type: str = "transformers",
        batch_size: int = 1,
        device: str = "auto",
        model_args: dict[str, Any] | None = None,
        server: Any = None,
    ) -> None:
        self.name = name
        self.model_type = model_type
        self.batch_size = batch_size
        self.device = device
        self.model_args = dict(model_args or {})
        self.server = server
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()
        #: Models (engines) this backend has loaded in-process.
        self.engine_starts = 0

    def reuse(self, key: str, build: Callable[[], Any], engine: bool = True) -> Any:
        """What `build()` returns, built once per key for the life of the backend (one
        job): a job generates in several units and loads its model once. `engine`: the
        build loads a model (counted in `engine_starts`)."""
        with self._lock:
            if key not in self._built:
                self._built[key] = build()
                self.engine_starts += int(engine)
            return self._built[key]

    def tokenizer(self, request: GenerationRequest) -> Any:
        """The model's tokenizer, loaded once per job for each thread that asks."""

        def load() -> Any:
            from transformers.models.auto.tokenization_auto import AutoTokenizer

            return AutoTokenizer.from_pretrained(
                request.model_path,
                revision=request.revision or "main",
                trust_remote_code=request.trust_remote_code,
            )

        return self.reuse(per_thread("tokenizer"), load, engine=False)

    def longest_prompt_tokens(self, request: GenerationRequest) -> int:
        """Tokens of the request's longest prompt as the model is given it (in the chat
        template, after the system prompt, when the request asks for them)."""
        tokenizer = self.tokenizer(request)
        chat = request.chat_template and getattr(tokenizer, "chat_template", None)
        system = [{"role": "system", "content": request.system_prompt}]
        before = system if request.system_prompt else []
        longest = 0
        for problem in request.problems:
            text = problem.prompt
            if chat:
                text = tokenizer.apply_chat_template(
                    [*before, {"role": "user", "content": text}],
                    tokenize=False,
                    add_generation_prompt=True,
                )
            ids = tokenizer(text, add_special_tokens=not chat)["input_ids"]
            longest = max(longest, len(ids))
        return longest

    def shrink_batch(self) -> bool:
        """Halve the batch size after an out-of-memory error (also in the models already
        built); False when it is 1 already."""
        if self.batch_size <= 1:
            return False
        self.batch_size //= 2
        for model in self._built.values():
            self.apply_batch_size(model)
        return True

    def apply_batch_size(self, model: Any) -> None:
        """Give a model built by `reuse` the backend's current batch size (backends whose
        models read it at every call need nothing here)."""
        return None

    def server_concurrency(self, request: GenerationRequest) -> int:
        """Requests a unit sends at once by default: all of them (the job's balancer holds
        those no engine slot is free for), at least every slot of every replica."""
        return max(request.engine.slots, request.n * len(request.problems), DEFAULT_SLOTS)

    def require_base_url(self, request: GenerationRequest) -> str:
        """The servers' URL of a model_type=server request (set by the runner)."""
        if not request.base_url:
            raise EvallaunchError(
                f"backend {self.name} has model_type=server but no server URL was given",
                hint="run it through evallaunch-evaluate, which starts the servers",
            )
        return request.base_url.rstrip("/")

    def prepare(self, request: GenerationRequest) -> None:
        """Import the harness in the calling thread, before units run in worker threads
        (some libraries' lazy imports are not thread-safe)."""
        if self.requires[0]:
            require(*self.requires)
        if self.model_type == "vllm" and not request.base_url:
            require("vllm", f"vllm-{self.name}")
        for module in self.imports:
            importlib.import_module(module)
        from tqdm import tqdm

        tqdm.get_lock()  # made lazily, and not thread-safely, by the first progress bar

    #: Modules `run` imports, imported up front by `prepare`.
    imports: tuple[str, ...] = ()

    def generate(self, request: GenerationRequest, scorer: Scorer | None = None) -> BackendOutput:
        """Sample `request.n` completions per problem; the harness grades them with `scorer`
        (by default the registry's `request.scorer`) for its own metrics. A job passes its
        grader's scorer, which remembers these grades for the job to record."""
        require(*self.requires)
        if self.model_type == "vllm" and not request.base_url:
            require("vllm", f"vllm-{self.name}")
            if request.device == "cpu":
                for name, value in vllm_cpu_environment().items():
                    os.environ.setdefault(name, value)
        return self.run(request, scorer or get_scorer(request.scorer))

    @abc.abstractmethod
    def run(self, request: GenerationRequest, scorer: Scorer) -> BackendOutput:
        """Run the harness (its heavy imports are already known to work)."""


def per_thread(key: str) -> str:
    """A `Backend.reuse` key of one thread's own copy (tokenizers are not shared between
    units generating at once)."""
    return f"{key}@{threading.get_ident()}"


def is_out_of_memory(err: BaseException) -> bool:
    """A CUDA (or other accelerator) out-of-memory error, whichever library raised it."""
    names = {cls.__name__ for cls in type(err).__mro__}
    return "OutOfMemoryError" in names or "CUDA out of memory" in str(err)


def build_backend(config: BackendConfig) -> Backend:
    """The backend a `backend` config group selects by its `_target_` (only classes of
    evallaunch.backends may be instantiated from a config)."""
    from hydra.utils import instantiate

    from evallaunch.config.frozen import plain

    backend = instantiate(plain(config), _execution_whitelist_="evallaunch.backends.*")
    if not isinstance(backend, Backend):
        raise EvallaunchError(
            f"backend._target_={config._target_} is not an evallaunch backend",
            hint="see conf/backend/ for the backends",
        )
    return backend
