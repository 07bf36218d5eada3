"""Benchmark data: read a benchmark's local mirror file into prompts and gold answers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evallaunch.errors import EvallaunchError


@dataclass(frozen=True)
class Problem:
    """One benchmark problem, ready to prompt a model with."""

    id: str
    prompt: str
    answer: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mirror_file(benchmark: Any, data_dir: str | Path) -> Path:
    """Locate a benchmark's mirror file, or explain how to get it."""
    path = Path(data_dir).expanduser() / benchmark.dataset.file
    if not path.is_file():
        raise EvallaunchError(
            f"benchmark '{benchmark.name}': data file not found: {path} "
            f"(paths.data_dir={data_dir!s}, benchmark.dataset.file={benchmark.dataset.file})",
            hint="run `evallaunch prepare` to fill the mirror, or set paths.data_dir=DIR "
            "to a directory holding that file (e.g. ../shared/datasets)",
        )
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file; a malformed line is reported with its number."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise EvallaunchError(f"{path}:{number}: not valid JSON ({err.msg})") from err
    return rows


def verify_mirror(benchmark: Any, path: Path) -> str:
    """Check a mirror file against the benchmark's recorded sha256; return the file's hash."""
    actual = sha256_of(path)
    expected = benchmark.dataset.sha256
    if expected and actual != expected:
        raise EvallaunchError(
            f"benchmark '{benchmark.name}': {path} has sha256 {actual}, "
            f"expected benchmark.dataset.sha256={expected}",
            hint="the file is corrupted or a different version: re-run `evallaunch prepare`",
        )
    return actual


def load_problems(benchmark: Any, data_dir: str | Path) -> tuple[list[Problem], str]:
    """Load a benchmark's problems (the first `benchmark.limit` of them) and the data hash."""
    path = mirror_file(benchmark, data_dir)
    data_hash = verify_mirror(benchmark, path)
    rows = read_rows(path)
    if benchmark.limit is not None:
        if benchmark.limit < 1:
            raise EvallaunchError(
                f"benchmark.limit={benchmark.limit} must be a positive number of problems or null"
            )
        rows = rows[: benchmark.limit]
    problems = []
    for number, row in enumerate(rows, start=1):
        missing = [
            key for key in (benchmark.problem_field, benchmark.answer_field) if key not in row
        ]
        if missing:
            raise EvallaunchError(
                f"{path}:{number}: missing field(s) {missing}; fields present: {sorted(row)}",
                hint="check benchmark.problem_field / benchmark.answer_field",
            )
        problem_id = str(row.get(benchmark.id_field, number - 1))
        text = str(row[benchmark.problem_field])
        prompt = benchmark.prompt_template.replace("{problem}", text)
        problems.append(
            Problem(id=problem_id, prompt=prompt, answer=str(row[benchmark.answer_field]))
        )
    return problems, data_hash


def write_problems(problems: list[Problem], path: Path) -> Path:
    """Write problems as JSON lines for a backend to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for problem in problems:
            handle.write(json.dumps(problem.to_dict(), ensure_ascii=False) + "\n")
    return path
