"""`evallaunch prepare`: materialize benchmarks into the local mirror once, verified.

Jobs then read only the mirror (`paths.data_dir`) and never touch the network. A benchmark
comes from a local source directory (`--source`, e.g. ../shared/datasets) when given,
otherwise from the Hugging Face Hub. Each file's sha256, row count and origin are recorded
in `PROVENANCE.json` beside it; a file already present with the expected hash is kept.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evallaunch.benchmarks.mirror import read_benchmark_rows, sha256_of, verify_mirror
from evallaunch.errors import EvallaunchError
from evallaunch.runtime.files import atomic_open, write_json

log = logging.getLogger(__name__)
PROVENANCE = "PROVENANCE.json"


def prepare_benchmark(benchmark: Any, data_dir: Path, source: Path | None) -> dict[str, Any]:
    """Ensure `benchmark`'s mirror file is in `data_dir`; return its provenance record."""
    spec = benchmark.dataset
    target = data_dir / spec.file
    if target.is_file() and spec.sha256 and sha256_of(target) == spec.sha256:
        return _record(benchmark, target, "already present", action="kept")
    if source is not None:
        origin = source / spec.file
        if not origin.is_file():
            raise EvallaunchError(
                f"benchmark '{benchmark.name}': {origin} not found in --source {source}",
                hint=f"the source directory must hold {spec.file}",
            )
        _check(benchmark, origin)
        with atomic_open(target, "wb") as handle, origin.open("rb") as src:
            shutil.copyfileobj(src, handle)
        return _record(benchmark, target, str(origin.resolve()), action="copied")
    _download(benchmark, target)
    return _record(benchmark, target, f"hf://datasets/{spec.hub_id}@{spec.revision}", "downloaded")


def _check(benchmark: Any, path: Path) -> None:
    spec = benchmark.dataset
    verify_mirror(
        benchmark, path, hint="the file is corrupted or a different version of the dataset"
    )
    rows = len(read_benchmark_rows(benchmark, path))
    if spec.rows is not None and rows != spec.rows:
        raise EvallaunchError(
            f"benchmark '{benchmark.name}': {path} has {rows} rows, expected {spec.rows}"
        )


def _download(benchmark: Any, target: Path) -> None:
    """Fetch the split from the Hub and write it as JSON lines (rows checked, not bytes)."""
    from datasets import load_dataset

    spec = benchmark.dataset
    try:
        dataset = load_dataset(
            spec.hub_id, name=spec.subset, split=spec.split, revision=spec.revision
        )
    except Exception as err:  # datasets raises many types for offline / missing / gated
        raise EvallaunchError(
            f"benchmark '{benchmark.name}': could not download {spec.hub_id} "
            f"(split {spec.split}, revision {spec.revision}): {type(err).__name__}: {err}",
            hint="offline? use `evallaunch prepare --source DIR` with a directory of mirror files",
        ) from None
    if spec.rows is not None and len(dataset) != spec.rows:
        raise EvallaunchError(
            f"benchmark '{benchmark.name}': {spec.hub_id} has {len(dataset)} rows, "
            f"expected {spec.rows}"
        )
    if spec.member:  # the benchmark reads a CSV member of a zip archive
        import zipfile

        with atomic_open(target, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
            archive.writestr(spec.member, dataset.to_pandas().to_csv(index=False))
        return
    with atomic_open(target) as handle:
        for row in dataset:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def _record(benchmark: Any, path: Path, origin: str, action: str) -> dict[str, Any]:
    return {
        "benchmark": benchmark.name,
        "file": path.name,
        "sha256": sha256_of(path),
        "rows": len(read_benchmark_rows(benchmark, path)),
        "origin": origin,
        "action": action,
        "prepared_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def prepare(benchmarks: list[Any], data_dir: Path, source: Path | None) -> list[dict[str, Any]]:
    """Prepare several benchmarks and update the mirror's provenance file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    provenance_path = data_dir / PROVENANCE
    provenance = json.loads(provenance_path.read_text()) if provenance_path.is_file() else {}
    records = []
    for benchmark in benchmarks:
        record = prepare_benchmark(benchmark, data_dir, source)
        if record["action"] != "kept" or record["file"] not in provenance:
            provenance[record["file"]] = record
        records.append(record)
    write_json(provenance_path, provenance)
    return records
