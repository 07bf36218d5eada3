"""A harness's tasks, groups and tags by name (`TaskIndex`, built by lm-eval's
`evallaunch.harness.lmeval.tasks` or lighteval's `evallaunch.harness.lighteval.tasks`):
groups expanded to their tasks, the datasets they read, and a hash of their definitions."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from evallaunch.errors import EvallaunchError

# The format of the cached indexes (evallaunch.compat.lm_eval.task_entries' records).
INDEX_FORMAT = 4
# dataset_path values that name a local file format, not a Hub dataset.
LOCAL_BUILDERS = frozenset({"json", "csv", "parquet", "text", "arrow", "pandas"})


@dataclass(frozen=True)
class TaskIndex:
    """A harness's tasks, groups and tags by name: lm-eval's
    (evallaunch.harness.lmeval.tasks) or lighteval's
    (evallaunch.harness.lighteval.tasks)."""

    entries: dict[str, dict[str, Any]]
    harness: str = "lm-eval"

    @property
    def backend(self) -> str:
        """The backend that runs this harness's tasks."""
        return "lmeval" if self.harness == "lm-eval" else "lighteval"

    def check(self, name: str | None) -> dict[str, Any]:
        """The entry of `name`; an unknown name fails with the closest names."""
        if not name:
            raise missing_task(self.harness)
        if name in self.entries:
            return self.entries[name]
        close = difflib.get_close_matches(name, list(self.entries), n=5, cutoff=0.6)
        own = (
            "your own task YAMLs need benchmark.include_path=DIR"
            if self.harness == "lm-eval"
            else "your own tasks need benchmark.custom_tasks=FILE.py"
        )
        raise EvallaunchError(
            f"benchmark.task={name} is invalid: {self.harness} has no task, group or tag of "
            "that name" + (f"; closest: {', '.join(close)}" if close else ""),
            hint=f"list them with `evallaunch tasks PATTERN --backend {self.backend}`; {own}",
        )

    def tasks_of(self, name: str) -> list[str]:
        """The tasks `name` runs: itself, or the members of a group or tag, recursively
        (a group's inline task, defined in its own YAML, is not listed)."""
        entry = self.check(name)
        if entry["kind"] == "task":
            return [name]
        out: list[str] = []
        for member in entry["members"]:
            if member not in self.entries:
                if member in entry.get("inline_members", ()):
                    continue  # defined in the group's own YAML
                close = difflib.get_close_matches(member, list(self.entries), n=3, cutoff=0.6)
                raise EvallaunchError(
                    f"benchmark.task={name} is invalid: its member {member} is no task, group "
                    f"or tag {self.harness} knows"
                    + (f"; closest: {', '.join(close)}" if close else ""),
                    hint=f"fix the group's YAML ({entry['yaml_path']})",
                )
            for task in self.tasks_of(member):
                if task not in out:
                    out.append(task)
        return out

    def definitions_of(self, name: str) -> list[dict[str, Any]]:
        """The entries `name` is built from: itself and every group, tag and task below it."""
        entry = self.check(name)
        seen = {name: entry}
        todo = list(entry["members"])
        while todo:
            member = todo.pop()
            if member in self.entries and member not in seen:
                seen[member] = self.entries[member]
                todo.extend(self.entries[member]["members"])
        return list(seen.values())

    def code_tasks(self, name: str) -> list[str]:
        """The tasks of `name` whose metrics run the model's programs."""
        return [task for task in self.tasks_of(name) if self.entries[task].get("runs_code")]

    def hub_datasets(self, name: str) -> list[tuple[str, str | None]]:
        """The Hub datasets (path, config name) the tasks of `name` read, in order."""
        out: list[tuple[str, str | None]] = []
        for task in self.tasks_of(name):
            entry = self.entries[task]
            pair = (entry["dataset_path"], entry["dataset_name"])
            if reads_hub(entry) and pair not in out:
                out.append(pair)
        return out

    def dataset_needs(self, name: str, path: str, dataset_name: str | None) -> dict[str, Any]:
        """What the tasks of `name` that read the Hub dataset (path, dataset_name) need of
        its files: the splits they evaluate on, the few-shot splits, the row templates."""
        needs: dict[str, Any] = {"splits": [], "fewshot_splits": [], "templates": []}
        for task in self.tasks_of(name):
            entry = self.entries[task]
            if (entry["dataset_path"], entry["dataset_name"]) != (path, dataset_name):
                continue
            for key in needs:
                needs[key] += [v for v in entry.get(key, []) if v not in needs[key]]
        return needs

    def yaml_dirs(self, name: str) -> list[str]:
        """The directories of the YAML files `name` is defined by (a job's lm-eval indexes
        only these)."""
        dirs = {
            str(Path(e["yaml_path"]).parent) for e in self.definitions_of(name) if e["yaml_path"]
        }
        return sorted(dirs)

    def definition_files(self, name: str) -> list[Path]:
        """The files that define `name`: every file in the directories of its YAMLs (their
        includes, their Python functions), or the Python modules of lighteval's tasks."""
        files = {
            path
            for directory in self.yaml_dirs(name)
            for path in Path(directory).iterdir()
            if path.is_file() and path.suffix != ".pyc"
        }
        files |= {Path(e["source"]) for e in self.definitions_of(name) if e.get("source")}
        return sorted(files)

    def definition_hash(self, name: str) -> str:
        """A hash of the files that define `name`: a task changed upstream hashes
        differently."""
        digest = hashlib.sha256()
        for path in self.definition_files(name):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()[:16]


def reads_hub(entry: dict[str, Any]) -> bool:
    """Whether a task reads a Hub dataset (not local files of its own)."""
    path = entry.get("dataset_path")
    if not path or entry.get("has_data_files") or path in LOCAL_BUILDERS:
        return False
    return not Path(str(path)).expanduser().exists()


def install_key(package: str) -> str:
    """A package's version and where it is installed (an index records its task files'
    paths: another environment sharing the cache has its own), with the index format."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    where = str(Path(spec.origin).parent) if spec is not None and spec.origin else ""
    digest = hashlib.sha256(where.encode()).hexdigest()[:8]
    return f"{version(package)}-{digest}-{INDEX_FORMAT}"


def missing_task(harness: str) -> EvallaunchError:
    """The error of a benchmark=harness job without benchmark.task."""
    return EvallaunchError(
        f"benchmark.task is missing: benchmark=harness runs the {harness} task, group or tag "
        "it names",
        hint="e.g. benchmark.task=gsm8k; list them with `evallaunch tasks PATTERN`",
    )
