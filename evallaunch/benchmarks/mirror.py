"""Benchmark data: read a benchmark's local mirror file into prompts and gold answers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from evallaunch.benchmarks.problem import Problem
from evallaunch.errors import EvallaunchError


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


def verify_mirror(
    benchmark: Any,
    path: Path,
    hint: str = "the file is corrupted or a different version: re-run `evallaunch prepare`",
) -> str:
    """Check a benchmark's data file against its recorded sha256 (benchmark.dataset.sha256,
    when set); return the file's hash."""
    actual = sha256_of(path)
    expected = benchmark.dataset.sha256
    if expected and actual != expected:
        raise EvallaunchError(
            f"benchmark '{benchmark.name}': {path} has sha256 {actual}, "
            f"expected benchmark.dataset.sha256={expected}",
            hint=hint,
        )
    return actual


def check_limit(limit: int | None) -> None:
    """benchmark.limit is a positive number of problems, or null (all of them)."""
    if limit is not None and limit < 1:
        raise EvallaunchError(
            f"benchmark.limit={limit!r} is invalid: expected a positive number of problems or null"
        )


def read_benchmark_rows(benchmark: Any, path: Path) -> list[dict[str, Any]]:
    """Rows of a mirror file: JSON lines, or a CSV member of a (password-protected) zip,
    read in memory so that protected questions are never written out in plain text."""
    spec = benchmark.dataset
    if not spec.member:
        return read_rows(path)
    import csv
    import io
    import zipfile

    password = spec.password.encode() if spec.password else None
    try:
        with zipfile.ZipFile(path) as archive:
            text = archive.read(spec.member, pwd=password).decode("utf-8")
    except KeyError:
        raise EvallaunchError(
            f"{path}: no member {spec.member!r} (benchmark.dataset.member)"
        ) from None
    except (zipfile.BadZipFile, RuntimeError) as err:
        raise EvallaunchError(f"{path}: cannot read {spec.member!r}: {err}") from None
    return list(csv.DictReader(io.StringIO(text)))


def select_rows(
    rows: list[dict[str, Any]], where: dict[str, Any], benchmark: str
) -> list[dict[str, Any]]:
    """The rows whose fields equal every value in `where` (benchmark.where)."""
    if not where or not rows:
        return rows
    if unknown := sorted(set(where) - set(rows[0])):
        raise EvallaunchError(
            f"benchmark.where names field(s) {', '.join(unknown)} that {benchmark} lacks",
            hint=f"its fields: {', '.join(sorted(rows[0]))}",
        )
    selected = [r for r in rows if all(str(r[k]) == str(v) for k, v in where.items())]
    if not selected:
        values = {k: sorted({str(r[k]) for r in rows}, key=_natural) for k in where}
        (key, value), *others = where.items()
        together = " ".join(f"benchmark.where.{k}={v}" for k, v in others)
        raise EvallaunchError(
            f"benchmark.where.{key}={value} is invalid"
            + (f" with {together}" if together else "")
            + f": no problem of {benchmark} matches it",
            hint="; ".join(
                f"{k} takes {', '.join(v[:12])}" + (" ..." if len(v) > 12 else "")
                for k, v in values.items()
            ),
        )
    return selected


def _natural(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order, before other text."""
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def load_problems(benchmark: Any, data_dir: str | Path) -> tuple[list[Problem], str]:
    """Load a benchmark's problems (the first `benchmark.limit` of them) and the data hash."""
    from evallaunch.benchmarks.prompts import build_problems, row_in_window

    path = mirror_file(benchmark, data_dir)
    data_hash = verify_mirror(benchmark, path)
    rows = [row for row in read_benchmark_rows(benchmark, path) if row_in_window(benchmark, row)]
    rows = select_rows(rows, dict(benchmark.where or {}), benchmark.name)
    check_limit(benchmark.limit)
    if benchmark.limit is not None:
        rows = rows[: benchmark.limit]
    if not rows:
        raise EvallaunchError(f"benchmark '{benchmark.name}': no problems selected from {path}")
    return build_problems(benchmark, rows), data_hash


def write_problems(problems: list[Problem], path: Path) -> Path:
    """Write problems as JSON lines for a backend to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for problem in problems:
            handle.write(json.dumps(problem.to_dict(), ensure_ascii=False) + "\n")
    return path
