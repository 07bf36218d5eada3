"""`evallaunch tasks` (the harness tasks there are) and `evallaunch prepare --task`."""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

HARNESSES = {"lmeval": "lm-eval", "lighteval": "lighteval"}


def add_task_source_arguments(parser: argparse.ArgumentParser) -> None:
    """--backend (whose tasks), --include-path and --custom-tasks (the user's own)."""
    parser.add_argument(
        "--backend",
        choices=list(HARNESSES),
        default="lmeval",
        help="whose tasks: lm-eval's (lmeval) or lighteval's",
    )
    parser.add_argument("--include-path", help="a directory of your own lm-eval task YAMLs")
    parser.add_argument("--custom-tasks", help="your own lighteval tasks (a .py file)")


def _index(args: argparse.Namespace) -> tuple[object, str]:
    from evallaunch.config.compose import compose_config
    from evallaunch.harness.job_harness import index_of

    cfg = compose_config()
    data_dir = str(Path(args.data_dir or cfg.paths.data_dir).expanduser())
    harness = HARNESSES[args.backend]
    own = args.custom_tasks if harness == "lighteval" else args.include_path
    return index_of(harness, cfg.paths.cache_dir, own), data_dir


def prepare_tasks(args: argparse.Namespace) -> int:
    """Put every dataset the named tasks read into the mirror (from --source or the Hub)."""
    from evallaunch.errors import EvallaunchError
    from evallaunch.harness.dataset_mirror import prepare_dataset
    from evallaunch.harness.task_index import TaskIndex

    index, data_dir = _index(args)
    assert isinstance(index, TaskIndex)
    source = Path(args.source) if args.source else None
    for task in args.task:
        datasets = index.hub_datasets(task)
        if source is not None and len(datasets) > 1:
            listed = ", ".join(f"{path} ({name or 'default'})" for path, name in datasets)
            raise EvallaunchError(
                f"--task {task} reads {len(datasets)} datasets ({listed}): --source DIR maps "
                "the files of one",
                hint="prepare each of its tasks with its own --source",
            )
        if not datasets:
            print(f"{task:<24} nothing to fetch (its tasks read local files)")
        for path, name in datasets:
            needs = index.dataset_needs(task, path, name)
            record = prepare_dataset(data_dir, path, name, source, needs)
            splits = ", ".join(sorted(record["sha256"]))
            print(f"{task:<24} {path} ({name or 'default'}): {splits}  from {record['source']}")
            for file, split in record["renamed"].items():
                print(f"{'':<24} {file} taken as split {split}, the one the task evaluates on")
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from evallaunch.harness.dataset_mirror import mirrored_files
    from evallaunch.harness.task_index import TaskIndex, reads_hub

    index, data_dir = _index(args)
    assert isinstance(index, TaskIndex)
    pattern = args.pattern or "*"
    if not any(char in pattern for char in "*?["):
        pattern = f"*{pattern}*"
    names = [name for name in index.entries if fnmatch.fnmatchcase(name, pattern)]
    print(f"{'name':<40} {'kind':<6} {'tasks':>5}  data in the mirror")
    for name in sorted(names):
        entry = index.entries[name]
        tasks = index.tasks_of(name)
        hub = index.hub_datasets(name)
        have = sum(mirrored_files(data_dir, path, sub) is not None for path, sub in hub)
        local = not hub and all(not reads_hub(index.entries[t]) for t in tasks)
        state = "local files" if local else f"{have}/{len(hub)} dataset(s)"
        print(f"{name:<40} {entry['kind']:<6} {len(tasks):>5}  {state}")
    print(f"{len(names)} of {index.harness}'s {len(index.entries)} names match {pattern!r}")
    return 0


def register_harness_commands(commands: argparse._SubParsersAction) -> None:
    """Add `tasks` to `evallaunch`'s sub-commands."""
    tasks = commands.add_parser(
        "tasks",
        help="list the lm-eval or lighteval tasks, groups and tags benchmark=harness can run "
        "(offline)",
        description="List the tasks, groups and tags benchmark=harness can run, how many "
        "tasks each runs, and whether their data is in the mirror.",
    )
    tasks.add_argument("pattern", nargs="?", help="a glob or a substring of the names")
    add_task_source_arguments(tasks)
    tasks.add_argument("--data-dir", help="mirror directory (default: paths.data_dir)")
    tasks.set_defaults(func=_tasks)
