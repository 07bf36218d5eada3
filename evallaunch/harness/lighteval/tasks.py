"""The tasks lighteval defines, indexed once per lighteval version without loading its full
registry (some of its task modules reach the network at import), and the user's own
custom-tasks module (`benchmark.custom_tasks`): the same records as lm-eval's tasks
(evallaunch.harness.task_index.TaskIndex), and the task configs of one name.

lighteval's task supersets (`mmlu` for every `mmlu:<subject>`) are the groups here."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import itertools
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.harness.task_index import TaskIndex, install_key

log = logging.getLogger(__name__)

# Indexing imports ~100 task modules: a minute on one core, once per lighteval version.
INDEX_TIMEOUT_S = 900
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def config_record(config: Any, module: str, source: str) -> dict[str, Any]:
    """One lighteval task config as a task index record."""
    return {
        "name": config.name,
        "kind": "task",
        "module": module,
        "source": source,
        "yaml_path": None,
        "members": [],
        "inline_members": [],
        "dataset_path": config.hf_repo,
        "dataset_name": config.hf_subset,
        "splits": sorted(set(map(str, config.evaluation_splits or []))),
        "fewshot_splits": [str(config.few_shots_split)] if config.few_shots_split else [],
        "templates": [],  # lighteval's prompts are Python functions
        "version": config.version,
        "has_data_files": False,
        "runs_code": any(_runs_code(metric) for metric in config.metrics or ()),
    }


def _runs_code(metric: Any) -> bool:
    """Whether a lighteval metric runs the model's programs (LiveCodeBench's `codegen_*`)."""
    return "codegen" in str(getattr(metric, "metric_name", metric))


def with_supersets(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records and, as groups, lighteval's supersets: `a` for the tasks `a:b`, `a:c`."""
    names = {record["name"] for record in records}
    prefixed = sorted((r["name"] for r in records if ":" in r["name"]), key=lambda n: n)
    groups = []
    for prefix, members in itertools.groupby(prefixed, key=lambda n: n.split(":")[0]):
        listed = list(members)
        if len(listed) > 1 and prefix not in names:
            groups.append(
                {
                    **dict.fromkeys(("module", "source", "yaml_path", "dataset_path")),
                    "name": prefix,
                    "kind": "group",
                    "members": listed,
                    "inline_members": [],
                    "dataset_name": None,
                    "splits": [],
                    "version": None,
                    "has_data_files": False,
                }
            )
    return records + groups


def module_records(module: ModuleType, name: str) -> list[dict[str, Any]]:
    """The records of a task module's `TASKS_TABLE`."""
    source = str(getattr(module, "__file__", "") or "")
    return [config_record(config, name, source) for config in getattr(module, "TASKS_TABLE", [])]


def build_builtin_index() -> list[dict[str, Any]]:
    """Every built-in task lighteval's modules define (a module that fails to import, e.g.
    reaching the network, is left out and logged)."""
    from evallaunch.compat.lighteval import task_modules

    records: list[dict[str, Any]] = []
    for name in task_modules():
        try:
            records += module_records(importlib.import_module(name), name)
        except Exception as err:  # a task module's own import failure: that module only
            log.warning("lighteval task module %s left out of the index: %r", name, err)
    return with_supersets(records)


def index_file(cache_dir: str | Path) -> Path:
    """Where the index of lighteval's built-in tasks is cached (one per lighteval install)."""
    return (
        Path(cache_dir).expanduser() / "lighteval" / f"task-index-{install_key('lighteval')}.json"
    )


def lighteval_task_index(cache_dir: str | Path, custom_tasks: str | None = None) -> TaskIndex:
    """lighteval's built-in tasks (indexed in a child process, offline, once per lighteval
    version) and those of the custom-tasks module `custom_tasks` (a .py file)."""
    by_name = dict(_builtin_entries(index_file(cache_dir)))
    if custom_tasks:
        module = custom_module(custom_tasks)
        for record in with_supersets(module_records(module, str(module.__file__))):
            by_name[record["name"]] = record
    return TaskIndex(by_name, harness="lighteval")


@functools.lru_cache(maxsize=4)
def _builtin_entries(cached: Path) -> dict[str, dict[str, Any]]:
    try:
        entries = json.loads(cached.read_text())
    except (OSError, ValueError):
        entries = _index_in_a_child(cached)
    return {entry["name"]: entry for entry in entries}


def _index_in_a_child(cached: Path) -> list[dict[str, Any]]:
    """Index the built-in tasks in a child process, offline (the job's own process imports
    only the modules of its tasks), into `cached`."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    temporary = cached.with_suffix(f".{os.getpid()}.tmp")
    proc = subprocess.run(
        [sys.executable, "-m", __name__, str(temporary)],
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=INDEX_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise EvallaunchError(
            f"could not index lighteval's tasks: {proc.stderr.strip()[-2000:]}",
            hint="check that lighteval is installed (make setup)",
        )
    entries: list[dict[str, Any]] = json.loads(temporary.read_text())
    os.replace(temporary, cached)  # jobs sharing the cache never read half a file
    return entries


@functools.lru_cache(maxsize=8)
def custom_module(path: str) -> ModuleType:
    """The user's lighteval custom-tasks module (a .py file with a `TASKS_TABLE`)."""
    file = Path(path).expanduser().resolve()
    if file.suffix != ".py" or not file.is_file():
        raise EvallaunchError(
            f"benchmark.custom_tasks={path} is invalid: not a Python file",
            hint="give lighteval's custom-tasks module: a .py file with a TASKS_TABLE",
        )
    spec = importlib.util.spec_from_file_location(f"evallaunch_custom_{file.stem}", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not getattr(module, "TASKS_TABLE", None):
        raise EvallaunchError(
            f"benchmark.custom_tasks={path} is invalid: it has no TASKS_TABLE of task configs"
        )
    return module


def task_configs(index: TaskIndex, name: str) -> list[Any]:
    """lighteval's task configs of the tasks `name` runs, imported from their modules only."""
    configs = []
    for task in index.tasks_of(name):
        module_name = index.entries[task]["module"]
        if module_name.endswith(".py"):
            module = custom_module(module_name)
        else:
            module = importlib.import_module(module_name)
        configs += [c for c in module.TASKS_TABLE if c.name == task]
    return configs


def _main(out: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    Path(out).write_text(json.dumps(build_builtin_index()))


if __name__ == "__main__":
    _main(sys.argv[1])
