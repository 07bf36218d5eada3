"""The harness tasks' datasets in the local mirror: one directory per Hub dataset and
config, one JSON lines file per split, with where it came from.

    {data_dir}/harness/{path with / as __}/{config or "default"}/{split}.jsonl
    {data_dir}/harness/{path with / as __}/{config or "default"}/source.json
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

from evallaunch.benchmarks.mirror import sha256_of
from evallaunch.errors import EvallaunchError
from evallaunch.runtime.files import utc_now, write_json

HARNESS_DIR = "harness"
SOURCE_FILE = "source.json"
SOURCE_SUFFIXES = (".jsonl.gz", ".json.gz", ".jsonl", ".json")


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
        f"evallaunch prepare --task {task} --source DIR  (DIR holding SPLIT.jsonl[.gz] files)"
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
    data_dir: str | Path,
    path: str,
    name: str | None,
    source: Path | None = None,
    needs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Put a Hub dataset into the mirror: from `source` (a directory of the files the user
    already has: SPLIT.jsonl, .jsonl.gz, .json or .json.gz) or, online, from the Hub with
    `datasets`. The files are checked against what the tasks need (`needs`: their splits
    and row templates) before the mirror is touched. Returns its provenance."""
    directory = dataset_dir(data_dir, path, name)
    staging = directory.with_name(directory.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if source is not None:
            origin, renamed = _copy_source(source, staging, needs or {})
        else:
            _download(path, name, staging)
            origin, renamed = f"hub:{path}" + (f":{name}" if name else ""), {}
        _check_rows(staging, needs or {}, origin)
        files = {file.stem: sha256_of(file) for file in sorted(staging.glob("*.jsonl"))}
        record = {
            "dataset_path": path,
            "dataset_name": name,
            "source": origin,
            "sha256": files,
            "renamed": renamed,
            "prepared_at": utc_now(),
        }
        write_json(staging / SOURCE_FILE, record)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)
    return record


def _source_files(source: Path) -> dict[str, Path]:
    """{split: file} of a source directory, the split being the file's name without its
    suffix (test.jsonl.gz holds split test)."""
    found: dict[str, Path] = {}
    for file in sorted(source.iterdir()):
        suffix = next((s for s in SOURCE_SUFFIXES if file.name.endswith(s)), None)
        if suffix is None or not file.is_file():
            continue
        split = file.name[: -len(suffix)]
        if split in found:
            raise EvallaunchError(
                f"--source {source} is invalid: {found[split].name} and {file.name} both "
                f"hold split {split}",
                hint="keep one file per split",
            )
        found[split] = file
    return found


def _read_rows(file: Path) -> list[dict[str, Any]]:
    """The rows of a JSON lines file or a JSON list, gzipped or not."""
    opener = gzip.open if file.name.endswith(".gz") else open
    try:
        with opener(file, "rt", encoding="utf-8") as handle:
            text = handle.read()
        if file.name.endswith((".json", ".json.gz")) and text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, ValueError, EOFError) as err:
        raise EvallaunchError(f"--source file {file} cannot be read: {err}") from None
    if not all(isinstance(row, dict) for row in rows):
        raise EvallaunchError(f"--source file {file} is invalid: its rows are not JSON objects")
    return list(rows)


def _copy_source(source: Path, staging: Path, needs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The source's splits written as SPLIT.jsonl into `staging`; a single file is taken as
    the one split the tasks evaluate on when its name is another (HumanEval.jsonl.gz ->
    test). Returns the source and {file: split} of the files taken so."""
    source = source.expanduser()
    found = _source_files(source) if source.is_dir() else {}
    if not found:
        raise EvallaunchError(
            f"--source {source} is invalid: no SPLIT.jsonl, .jsonl.gz, .json or .json.gz file in it"
        )
    needed = list(needs.get("splits", []))
    renamed: dict[str, str] = {}
    missing = [split for split in needed if split not in found]
    if missing and len(found) == 1 and len(needed) == 1:
        ((split, file),) = found.items()
        found, renamed = {needed[0]: file}, {file.name: needed[0]}
    elif missing:
        raise EvallaunchError(
            f"--source {source} is invalid: the task evaluates on split(s) "
            f"{', '.join(needed)}, and the directory holds {', '.join(sorted(found))} "
            f"({', '.join(f.name for f in found.values())})",
            hint=f"name each file after its split, e.g. {missing[0]}.jsonl (or .jsonl.gz)",
        )
    for split, file in found.items():
        rows = _read_rows(file)
        with open(staging / f"{split}.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return str(source.resolve()), renamed


def _check_rows(staging: Path, needs: dict[str, Any], origin: str) -> None:
    """Each row template of the tasks renders on the first row of the split they evaluate
    on; a field the rows lack is named, with the fields they have."""
    templates, splits = needs.get("templates", []), needs.get("splits", [])
    if not templates or not splits or not (staging / f"{splits[0]}.jsonl").is_file():
        return
    from evallaunch.compat.lm_eval import render_row_template

    with open(staging / f"{splits[0]}.jsonl", encoding="utf-8") as handle:
        first = handle.readline()
    if not first.strip():
        raise EvallaunchError(f"{origin}: split {splits[0]} has no rows")
    row = json.loads(first)
    for template in templates:
        try:
            render_row_template(template, row)
        except Exception as err:  # Jinja's UndefinedError, or a type the template cannot use
            raise EvallaunchError(
                f"{origin}: the rows of split {splits[0]} do not fit the task "
                f"({type(err).__name__}: {err}); the task's template is {template[:120]!r}, "
                f"the rows have the fields {', '.join(sorted(row))}",
                hint="give the dataset's own files (the fields the Hub dataset has)",
            ) from None


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
