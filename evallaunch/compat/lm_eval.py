"""lm-eval 0.4: its OpenAI-compatible clients and its in-process vLLM model, with every
repeat of a prompt seeded on its own."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

from evallaunch.compat import check_version


def server_client_class(chat: bool, headers: dict[str, str], seed: int) -> type:
    """lm-eval's client of OpenAI-compatible servers (`local-chat-completions` if `chat`,
    else `local-completions`) that sends `headers` with every request, seeds the k-th
    repeat of a prompt with seed + k (lm-eval sends one seed with every request, so the n
    samples of a problem would all be the same) and leaves out an empty stop list
    (`transformers serve` fails on `"stop": []`).

    Relies on lm-eval building every request's JSON body in the private
    `_create_payload(messages, *, generate, gen_kwargs, seed, eos)` (the seed as a keyword)
    and its HTTP headers from the `header` property."""
    check_version("lm-eval")
    from lm_eval.models.openai_completions import LocalChatCompletion, LocalCompletionsAPI

    base: type = LocalChatCompletion if chat else LocalCompletionsAPI

    class ServerLM(base):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._repeats: collections.Counter[str] = collections.Counter()

        @property
        def header(self) -> dict[str, str]:
            return {**super().header, **headers}

        def _create_payload(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
            key = json.dumps(messages, sort_keys=True, default=str)
            kwargs["seed"] = int(kwargs.get("seed", seed)) + self._repeats[key]
            self._repeats[key] += 1
            payload = super()._create_payload(messages, *args, **kwargs)
            if not payload.get("stop"):
                payload.pop("stop", None)
            return payload

    return ServerLM


def vllm_with_seeded_repeats_class() -> type:
    """lm-eval's in-process vLLM model (`vllm`) whose k-th repeat of a prompt is seeded
    `unit_seed + k` (set `unit_seed` per unit): lm-eval sends every repeat with the same
    generation settings, so without a seed the samples are not reproducible, and with one
    they are identical.

    Relies on `generate_until(requests)` reading each request's `(context, gen_kwargs)`
    from `Instance.arguments` (rewritten here with a `seed`), and on `VLLM.modify_gen_kwargs`
    passing gen_kwargs it does not know (`seed`) on to vLLM's `SamplingParams`."""
    check_version("lm-eval")
    from lm_eval.models.vllm_causallms import VLLM

    class SeededVLLM(VLLM):
        unit_seed = 0

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            repeats: collections.Counter[str] = collections.Counter()
            for instance in requests:
                context, gen_kwargs = instance.args
                key = json.dumps(context, sort_keys=True, default=str)
                seed = self.unit_seed + repeats[key]
                repeats[key] += 1
                instance.arguments = (context, {**gen_kwargs, "seed": seed})
            return list(super().generate_until(requests, disable_tqdm=disable_tqdm))

    return SeededVLLM


def task_entries(include_path: str | None, include_defaults: bool = True) -> list[dict[str, Any]]:
    """Every task, group and tag lm-eval's `TaskManager` indexes (its built-in tasks and
    those under `include_path`), as plain records: name, kind (task, group, tag), the YAML
    file, the members of a group or tag, the dataset a task reads and its splits.

    Relies on `TaskManager.task_index` mapping names to entries with `kind`, `yaml_path`
    and the YAML's `cfg` (its `include:` resolved) and `tags`."""
    check_version("lm-eval")
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=include_path, include_defaults=include_defaults)
    members: dict[str, list[str]] = collections.defaultdict(list)
    for name, entry in manager.task_index.items():
        for tag in entry.tags or ():
            members[tag].append(name)
    records = []
    for name, entry in sorted(manager.task_index.items()):
        cfg = entry.cfg or {}
        kind = entry.kind.name.lower()
        listed = cfg.get("task") or [] if kind == "group" else []
        listed = listed if isinstance(listed, list) else [listed]
        inline: list[str] = []
        if kind == "tag":
            member_names = sorted(members.get(name, []))
        else:  # a group's members; those given as a mapping may be defined inline
            member_names = [m for m in listed if isinstance(m, str)]
            inline = [str(m.get("task") or m.get("group")) for m in listed if isinstance(m, dict)]
            member_names += inline
        evaluated = cfg.get("test_split") or cfg.get("validation_split")
        records.append(
            {
                "name": name,
                "kind": kind,
                "yaml_path": str(entry.yaml_path) if entry.yaml_path else None,
                "members": member_names,
                "inline_members": inline,
                "dataset_path": cfg.get("dataset_path"),
                "dataset_name": cfg.get("dataset_name"),
                # the split it evaluates on (test, else validation), those few-shot
                # examples come from, and the Jinja templates that read each row's fields
                "splits": [str(evaluated)] if evaluated else [],
                "fewshot_splits": sorted(
                    {str(cfg[key]) for key in ("fewshot_split", "training_split") if cfg.get(key)}
                ),
                "templates": _row_templates(cfg),
                "version": (cfg.get("metadata") or {}).get("version"),
                "has_data_files": bool((cfg.get("dataset_kwargs") or {}).get("data_files")),
                # the task runs the model's programs (lm-eval's `unsafe_code`)
                "runs_code": bool(cfg.get("unsafe_code")),
            }
        )
    return records


def _row_templates(cfg: dict[str, Any]) -> list[str]:
    """The task's Jinja templates over a dataset row (none when `process_docs` rewrites the
    rows first: its fields are then the function's)."""
    if cfg.get("process_docs"):
        return []
    keys = ("doc_to_text", "doc_to_target", "doc_to_choice")
    values = [cfg.get(key) for key in keys]
    return [v for v in values if isinstance(v, str) and ("{{" in v or "{%" in v)]


def render_row_template(template: str, row: dict[str, Any]) -> str:
    """A task template rendered on one row as lm-eval renders it (an undefined field
    raises `jinja2.UndefinedError`).

    Relies on `lm_eval.utils.apply_template(template, doc)`."""
    check_version("lm-eval")
    from lm_eval.utils import apply_template

    return str(apply_template(template, row))


@contextlib.contextmanager
def redirected_task_datasets(
    redirect: Callable[[str, str | None], dict[str, str] | None],
) -> Iterator[list[tuple[str, str | None]]]:
    """While open, an lm-eval task that loads the dataset (path, name) reads the local JSON
    lines files `redirect(path, name)` gives ({split: file}) instead, if it gives any. Yields
    the (path, name) pairs the tasks loaded.

    Relies on `ConfigurableTask.download(dataset_kwargs)` loading
    `datasets.load_dataset(path=self.DATASET_PATH, name=self.DATASET_NAME, **dataset_kwargs)`
    when the task has no `custom_dataset`."""
    check_version("lm-eval")
    from lm_eval.api.task import ConfigurableTask

    original = ConfigurableTask.download
    loaded: list[tuple[str, str | None]] = []

    def download(self: Any, dataset_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        path, name = self.DATASET_PATH, self.DATASET_NAME
        files = redirect(path, name) if path and not callable(self.config.custom_dataset) else None
        loaded.append((path, name))
        if files is not None:
            self.DATASET_PATH, self.DATASET_NAME = "json", None
            dataset_kwargs = {"data_files": files}
        original(self, dataset_kwargs, **kwargs)

    ConfigurableTask.download = download
    try:
        yield loaded
    finally:
        ConfigurableTask.download = original


def quiet_git_probe() -> None:
    """lm-eval's results record the git commit of the working directory, probed with
    `git describe --always`, whose "fatal: not a git repository" outside a checkout goes to
    the terminal. Replaces the probe with the same one, git's stderr kept. Idempotent.

    Relies on `lm_eval.evaluator` calling `get_git_commit_hash()`, imported by name from
    `lm_eval.loggers.utils`, whose fallback is `get_commit_from_path(cwd)`."""
    check_version("lm-eval")
    import lm_eval.evaluator as evaluator
    from lm_eval.loggers.utils import get_commit_from_path

    if getattr(evaluator.get_git_commit_hash, "_evallaunch_quiet", False):
        return

    def get_git_commit_hash() -> str | None:
        try:
            probe = subprocess.run(
                ["git", "describe", "--always"],  # noqa: S607 (as lm-eval runs it)
                capture_output=True,
                check=True,
            )
        except (subprocess.CalledProcessError, FileNotFoundError):
            return get_commit_from_path(os.getcwd())
        return probe.stdout.strip().decode()

    get_git_commit_hash._evallaunch_quiet = True  # type: ignore[attr-defined]
    evaluator.get_git_commit_hash = get_git_commit_hash


@contextlib.contextmanager
def sandboxed_code_eval(metric: Callable[[], Any]) -> Iterator[None]:
    """While open, `evaluate.load("code_eval")` gives `metric()` (evallaunch's
    `SandboxedCodeEval`: the same `compute`, every program run in evallaunch's sandbox)
    instead of fetching Hugging Face's metric from the Hub and running the programs with
    `exec` in this process; any other metric loads as before.

    Relies on lm-eval's code tasks (humaneval*, mbpp*) calling `evaluate.load("code_eval")`
    in their `utils` module, which lm-eval imports while it builds the task, and calling
    `compute(references=..., predictions=..., k=...)` on the result."""
    check_version("lm-eval")
    import evaluate

    original = evaluate.load

    def load(path: str, *args: Any, **kwargs: Any) -> Any:
        if path == "code_eval":
            return metric()
        return original(path, *args, **kwargs)

    evaluate.load = load
    try:
        yield
    finally:
        evaluate.load = original
