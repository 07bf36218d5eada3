"""The tasks lm-eval defines, indexed once per lm-eval install and cached, and the user's own
task YAMLs (`benchmark.include_path`), as a `TaskIndex`."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.harness.task_index import TaskIndex, install_key


def index_file(cache_dir: str | Path) -> Path:
    """Where the index of lm-eval's built-in tasks is cached (one per lm-eval install)."""
    return Path(cache_dir).expanduser() / "lm_eval" / f"task-index-{install_key('lm_eval')}.json"


def task_index(cache_dir: str | Path, include_path: str | None = None) -> TaskIndex:
    """lm-eval's built-in tasks (indexed once per lm-eval version, then read from the cache:
    indexing them takes lm-eval most of a minute on one core) and the tasks under
    `include_path`."""
    from evallaunch.compat.lm_eval import task_entries

    by_name = dict(_builtin_entries(index_file(cache_dir)))
    if include_path:
        directory = Path(include_path).expanduser()
        if not directory.is_dir():
            raise EvallaunchError(
                f"benchmark.include_path={include_path} is invalid: not a directory"
            )
        for entry in task_entries(str(directory.resolve()), include_defaults=False):
            by_name[entry["name"]] = entry
    return TaskIndex(by_name)


@functools.lru_cache(maxsize=4)
def _builtin_entries(cached: Path) -> dict[str, dict[str, Any]]:
    """The built-in tasks by name, from `cached` (built there first if it is missing); read
    once per process (a sweep fingerprints many harness jobs at submit)."""
    from evallaunch.compat.lm_eval import task_entries

    try:
        entries = json.loads(cached.read_text())
    except (OSError, ValueError):
        entries = task_entries(None)
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entries))
        os.replace(temporary, cached)  # jobs sharing the cache never read half a file
    return {entry["name"]: entry for entry in entries}
