"""lighteval 0.13: its vLLM model on the installed vLLM, its engine arguments, a pipeline
that loads only evallaunch's task, models that live for a whole job, and its LiveCodeBench
checks run in evallaunch's sandbox."""

from __future__ import annotations

import collections
import contextlib
import importlib
import importlib.util
import json
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from evallaunch.compat import check_version


def lighteval_vllm_module() -> Any:
    """lighteval 0.13's `lighteval.models.vllm.vllm_model`, working on the installed vLLM.

    lighteval 0.13 pins vllm<0.10.2. With a newer vLLM (0.32's CPU build, 0.33) its
    `VLLMModel` is a placeholder that raises ImportError, and behind the pin the module
    imports `vllm.transformers_utils.tokenizer` and ray (gone; ray only for its
    data_parallel_size > 1 path, which evallaunch never uses), builds `LLM(swap_space=4)`
    and calls `LLM.generate(prompt_token_ids=...)` (both gone). Here the module is imported
    with those names supplied and an `LLM` that takes the old arguments."""
    check_version("lighteval")
    name = "lighteval.models.vllm.vllm_model"
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "_evallaunch_adapted", False):
        return loaded
    import lighteval.utils.imports as imports

    if importlib.util.find_spec("vllm") is None or imports.is_package_available("vllm"):
        # No vLLM (its config class still works), or the vLLM lighteval was written for.
        from lighteval.models.vllm import vllm_model as native

        native._evallaunch_adapted = True  # type: ignore[attr-defined]
        return native
    vllm_model = _import_as_if_vllm_were_pinned(name)
    vllm_model.LLM = _llm_taking_old_arguments()
    vllm_model._evallaunch_adapted = True
    return vllm_model


def _import_as_if_vllm_were_pinned(name: str) -> Any:
    """Import lighteval's module `name` afresh, with the vLLM and ray names it imports
    supplied and lighteval believing its vLLM is installed."""
    import lighteval.utils.imports as imports
    from vllm.tokenizers import get_tokenizer

    shim = types.ModuleType("vllm.transformers_utils.tokenizer")
    shim.get_tokenizer = get_tokenizer  # type: ignore[attr-defined]
    sys.modules.setdefault("vllm.transformers_utils.tokenizer", shim)
    if importlib.util.find_spec("ray") is None:
        sys.modules.setdefault("ray", types.ModuleType("ray"))
    original = imports.is_package_available

    def available(package: Any) -> bool:
        return getattr(package, "name", package) == "vllm" or bool(original(package))

    imports.is_package_available = available  # type: ignore[assignment]
    sys.modules.pop(name, None)  # imported already, with the placeholder, by the pipeline
    try:
        return importlib.import_module(name)
    finally:
        imports.is_package_available = original


def _llm_taking_old_arguments() -> type:
    """vLLM's `LLM` accepting lighteval 0.13's `swap_space` and `prompt_token_ids`."""
    import vllm
    from vllm.inputs import TokensPrompt

    class LLM(vllm.LLM):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("swap_space", None)
            super().__init__(*args, **kwargs)

        def generate(
            self,
            prompts: Any = None,
            sampling_params: Any = None,
            *,
            prompt_token_ids: Any = None,
            **kwargs: Any,
        ) -> Any:
            if prompt_token_ids is not None:
                prompts = [TokensPrompt(prompt_token_ids=ids) for ids in prompt_token_ids]
            return super().generate(prompts, sampling_params, **kwargs)

    return LLM


@contextlib.contextmanager
def lighteval_vllm_engine_args(**overrides: Any) -> Iterator[None]:
    """lighteval 0.13's `VLLMModel` builds `vllm.LLM(...)` with `enforce_eager=True`
    hard-coded (no CUDA graphs). Inside this block, the `LLM` it builds gets `overrides`
    instead."""
    vllm_model = lighteval_vllm_module()
    original = vllm_model.LLM

    def build(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, **overrides})

    vllm_model.LLM = build
    try:
        yield
    finally:
        vllm_model.LLM = original


def offline_pipeline_class() -> type:
    """lighteval's `Pipeline`, taking `task_configs=[LightevalTaskConfig, ...]` and loading
    those tasks only.

    lighteval's `Registry` imports every built-in task module (some reach the network at
    import time). This relies on `Pipeline.__init__` building its tasks in the private
    `_init_tasks_and_requests(tasks)` (replaced here by one that builds a registry of the
    given configs; lighteval's `_update_num_samples`, for YAML metric options, is never
    needed), and on the private attributes `Registry.__init__` sets (`_task_registry`,
    `_load_multilingual`, `_custom_tasks`) and reads back in `_update_task_configs`."""
    check_version("lighteval")
    from lighteval.pipeline import Pipeline
    from lighteval.tasks.lighteval_task import LightevalTask
    from lighteval.tasks.registry import Registry

    class TaskRegistry(Registry):
        """A registry of the given task configs only (no built-in task modules imported)."""

        def __init__(self, tasks: str, configs: list[Any]) -> None:
            self.tasks_list = tasks.split(",")
            self._load_multilingual = False
            self._custom_tasks = None
            self._task_registry = {config.name: config for config in configs}
            self.task_to_configs = self._update_task_configs()

    class OfflinePipeline(Pipeline):
        """lighteval's Pipeline, loading tasks from `TaskRegistry` instead of the full one;
        `load_dataset(task)` may give a task's dataset (None: the task loads its own)."""

        def __init__(
            self,
            task_configs: list[Any],
            num_fewshot: int = 0,
            load_dataset: Callable[[Any], Any] | None = None,
            **kwargs: Any,
        ) -> None:
            self._task_configs = task_configs
            self._load_dataset = load_dataset or (lambda task: None)
            names = ",".join(f"{config.name}|{num_fewshot}" for config in task_configs)
            super().__init__(tasks=names, **kwargs)

        def _init_tasks_and_requests(self, tasks: str) -> None:
            self.registry = TaskRegistry(tasks, self._task_configs)
            self.tasks_dict = self.registry.load_tasks()
            for task in self.tasks_dict.values():
                dataset = self._load_dataset(task)
                if dataset is not None and task.dataset_filter is not None:
                    dataset = dataset.filter(task.dataset_filter)
                task.dataset = dataset
            missing = {k: t for k, t in self.tasks_dict.items() if t.dataset is None}
            LightevalTask.load_datasets(missing, 1)
            self.documents_dict = {
                task.full_name: task.get_docs(self.pipeline_parameters.max_samples)
                for task in self.tasks_dict.values()
            }
            self.sampling_docs = collections.defaultdict(list)
            for docs in self.documents_dict.values():
                for doc in docs:
                    for sampling in doc.sampling_methods:
                        self.sampling_docs[sampling].append(doc)
            self.evaluation_tracker.task_config_logger.log(self.tasks_dict)

    return OfflinePipeline


def task_modules() -> list[str]:
    """The modules lighteval's `Registry` imports for its built-in tasks (each one's
    `TASKS_TABLE` lists its `LightevalTaskConfig`s).

    Relies on `Registry.load_all_task_configs` reading every `lighteval/tasks/tasks/*.py`
    and every `lighteval/tasks/tasks/<dir>/main.py` (the multilingual ones only on request)."""
    check_version("lighteval")
    import lighteval.tasks.tasks as builtin

    root = Path(next(iter(builtin.__path__)))
    files = [p.stem for p in root.glob("*.py") if p.name != "__init__.py"]
    dirs = [f"{d.name}.main" for d in root.iterdir() if (d / "main.py").is_file()]
    return sorted(f"{builtin.__name__}.{name}" for name in files + dirs)


def model_for_the_whole_job(model_class: type) -> type:
    """`model_class` (a lighteval model), loaded once for all the units of a job.

    Generation skips lighteval's per-document sample cache: it would hand a unit the
    samples another unit drew for the same problem (the job's sample ledger is what resumes
    work). This relies on `greedy_until` being wrapped by lighteval's `@cached` decorator
    (`functools.wraps`: the undecorated method is its `__wrapped__`) and on the cache being
    the model's private `_cache` (`SampleCache`, whose `cache_dir` lighteval creates, empty,
    in the checkpoint: removed again). `cleanup` keeps the model: lighteval's pipeline
    calls it at the end of every evaluation, and it would free the model."""
    check_version("lighteval")

    class JobModel(model_class):
        greedy_until = model_class.greedy_until.__wrapped__  # type: ignore[attr-defined]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            with contextlib.suppress(OSError):
                Path(self._cache.cache_dir).rmdir()

        def cleanup(self) -> None:
            return None

    JobModel.__name__ = f"Job{model_class.__name__}"
    return JobModel


# Runs lighteval's own `run_test` on one program in the sandbox: its module's source comes
# on stdin with the sample and the program (numpy and tqdm, which `run_test` does not use,
# stand-ins: the sandbox's Python has only the standard library).
_LCB_CHECKER = """\
import json, os, sys, types
payload = json.loads(sys.stdin.read())
for name in ("numpy", "tqdm"):
    sys.modules[name] = types.ModuleType(name)
    sys.modules[name].__getattr__ = lambda attribute: type(attribute, (), {})
out = os.fdopen(os.dup(1), "w")
module = types.ModuleType("lcb_codegen_metrics")
sys.modules[module.__name__] = module
exec(compile(payload["source"], "codegen_metrics.py", "exec"), module.__dict__)
result = module.run_test(payload["sample"], test=payload["generation"], timeout=payload["timeout"])
out.write(json.dumps(list(result)))
out.flush()
"""


@contextlib.contextmanager
def sandboxed_codegen_checks(run: Callable[[str, str, float], str | None]) -> Iterator[None]:
    """While open, lighteval's LiveCodeBench metric (`lcb:codegeneration*`) checks each
    program with its own `run_test` (its reliability guard, timeouts and output
    comparison) run by `run(program, stdin, wall_seconds)` (evallaunch's sandbox:
    `evallaunch.scoring.code_eval.run_checker`), not in a child of this process; a program
    the sandbox stops counts as lighteval counts one its global timeout stops (every test -1).

    Relies on `lighteval.tasks.tasks.lcb.codegen_metrics.check_correctness(sample,
    generation, timeout)` being what its metric calls per program (in this process or a
    forked worker), returning `run_test(sample, test=generation, timeout=timeout)`'s list,
    and on `run_test` needing only the standard library."""
    check_version("lighteval")
    from lighteval.tasks.tasks.lcb import codegen_metrics

    source = Path(str(codegen_metrics.__file__)).read_text()
    original = codegen_metrics.check_correctness

    def check_correctness(sample: dict[str, str], generation: str, timeout: int) -> list[Any]:
        tests = len(json.loads(sample["input_output"])["inputs"])
        wall = (timeout + 1) * tests + 5  # lighteval's global timeout
        payload = {"source": source, "sample": sample, "generation": generation}
        output = run(_LCB_CHECKER, json.dumps({**payload, "timeout": timeout}), wall)
        return json.loads(output) if output else [-1] * tests

    codegen_metrics.check_correctness = check_correctness
    try:
        yield
    finally:
        codegen_metrics.check_correctness = original
