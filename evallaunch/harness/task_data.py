"""The harness tasks' datasets in the local mirror: one directory per Hub dataset and
config, one JSON lines file per split, with where it came from.

    {data_dir}/harness/{path with / as __}/{config or "default"}/{split}.jsonl
    {data_dir}/harness/{path with / as __}/{config or "default"}/source.json
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from evallaunch.benchmarks.mirror import sha256_of
from evallaunch.errors import EvallaunchError
from evallaunch.job.results import utc_now, write_json

HARNESS_DIR = "harness"
SOURCE_FILE = "source.json"


def dataset_dir(data_dir: str | Path, path: str, name: str | None) -> Path:
    """The mirror directory of the Hub dataset `path` (config `name`)."""
    return Path(data_dir).expanduser() / HARNESS_DIR / path.replace("/", "__") / (name or "default")


def mirrored_files(data_dir: str | Path, path: str, name: str | None) -> dict[str, str] | None:
    """{split: file} of a mirrored dataset, None when it is not in the mirror."""
    directory = dataset_dir(data_dir, path, name)
    files = {file.stem: str(file) for file in sorted(directory.glob("*.jsonl"))}
    return files or None


def prepare_command(task: str, path: str, name: str | None) -> str:
    """The command that puts a task's dataset into the mirror."""
    config = f" (config {name})" if name else ""
    return (
        f"evallaunch prepare --task {task}  (online: fetches {path}{config}), or "
        f"evallaunch prepare --task {task} --source DIR  (DIR holding SPLIT.jsonl files)"
    )


def require_mirrored(
    data_dir: str | Path, task: str, datasets: list[tuple[str, str | None]]
) -> dict[tuple[str, str | None], dict[str, str]]:
    """The mirrored files of every dataset a task reads; a missing one fails with the
    command that prepares it."""
    found = {}
    for path, name in datasets:
        files = mirrored_files(data_dir, path, name)
        if files is None:
            raise EvallaunchError(
                f"benchmark.task={task} is invalid here: its dataset {path}"
                + (f" ({name})" if name else "")
                + f" is not in the mirror ({dataset_dir(data_dir, path, name)})",
                hint=prepare_command(task, path, name),
            )
        found[(path, name)] = files
    return found


def data_hash(files: dict[tuple[str, str | None], dict[str, str]]) -> dict[str, str]:
    """sha256 of every mirrored file a task reads, by dataset and split."""
    return {
        f"{path}:{name or 'default'}:{split}": sha256_of(Path(file))
        for (path, name), splits in sorted(files.items(), key=str)
        for split, file in sorted(splits.items())
    }


def prepare_dataset(
    data_dir: str | Path, path: str, name: str | None, source: Path | None = None
) -> dict[str, Any]:
    """Put a Hub dataset into the mirror: from `source` (a directory of SPLIT.jsonl files the
    user already has) or, online, from the Hub with `datasets`. Returns its provenance."""
    directory = dataset_dir(data_dir, path, name)
    staging = directory.with_name(directory.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if source is not None:
        splits = sorted(source.expanduser().glob("*.jsonl"))
        if not splits:
            raise EvallaunchError(f"--source {source} is invalid: no SPLIT.jsonl file in it")
        for file in splits:
            shutil.copyfile(file, staging / file.name)
        origin = str(source.expanduser().resolve())
    else:
        _download(path, name, staging)
        origin = f"hub:{path}" + (f":{name}" if name else "")
    files = {file.stem: sha256_of(file) for file in sorted(staging.glob("*.jsonl"))}
    record = {
        "dataset_path": path,
        "dataset_name": name,
        "source": origin,
        "sha256": files,
        "prepared_at": utc_now(),
    }
    write_json(staging / SOURCE_FILE, record)
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)
    return record


def _download(path: str, name: str | None, out: Path) -> None:
    """Every split of the Hub dataset, as JSON lines (needs the network)."""
    import datasets

    try:
        loaded = datasets.load_dataset(path, name)
    except Exception as err:  # the Hub's and datasets' many errors: one message
        raise EvallaunchError(
            f"could not fetch {path}" + (f" ({name})" if name else "") + f" from the Hub: {err}",
            hint="check the network and HF_TOKEN, or give the files with --source DIR",
        ) from err
    for split, rows in loaded.items():
        rows.to_json(str(out / f"{split}.jsonl"), lines=True, force_ascii=False)


def read_source(data_dir: str | Path, path: str, name: str | None) -> dict[str, Any] | None:
    """The provenance recorded when a dataset was prepared."""
    try:
        return dict(json.loads((dataset_dir(data_dir, path, name) / SOURCE_FILE).read_text()))
    except (OSError, ValueError):
        return None
