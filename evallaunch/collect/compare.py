"""`compare` two checkpoints with paired tests, and `diff` what differs between two runs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from evallaunch.collect.results_table import load_job, scan
from evallaunch.errors import EvallaunchError
from evallaunch.job.record import read_results
from evallaunch.job.results import DETAILS_FILE, RESULTS_FILE

ALPHA = 0.05
# config.yaml sections and keys that cannot change the numbers.
_CONFIG_IGNORED = {"paths", "launch", "experiment_name", "verbose", "hydra", "parallelism"}
# Labels, not settings: the checkpoint itself shows in name_or_path / revision.
_KEYS_IGNORED = {"model.name", "model.params_b", "model.step", "model.tokens_trained"} | {
    # How fast an endpoint is asked, not what answers.
    f"model.endpoint.{key}"
    for key in ("api_key_env", "max_in_flight", "max_retries", "retry_backoff_s", "max_backoff_s")
}


@dataclass(frozen=True)
class Comparison:
    """B minus A on one benchmark, over the problems both runs graded.

    Attributes:
        benchmark: Benchmark name.
        a: pass@1 of A on the shared problems.
        b: pass@1 of B on the shared problems.
        diff: b - a.
        ci_low: Lower end of the paired bootstrap 95% CI of the difference.
        ci_high: Upper end.
        p_bootstrap: Two-sided paired bootstrap p-value.
        p_mcnemar: McNemar's exact p-value (only with one sample per problem on both sides).
        num_problems: Problems both runs graded.
        a_dir: Job directory of A.
        b_dir: Job directory of B.
    """

    benchmark: str
    a: float
    b: float
    diff: float
    ci_low: float
    ci_high: float
    p_bootstrap: float
    p_mcnemar: float | None
    num_problems: int
    a_dir: Path
    b_dir: Path

    @property
    def p_value(self) -> float:
        """McNemar's p when available, else the bootstrap p."""
        return self.p_bootstrap if self.p_mcnemar is None else self.p_mcnemar

    @property
    def significant(self) -> bool:
        """Whether the difference is significant at the 0.05 level."""
        return self.p_value < ALPHA


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts b (A only) and c (B only)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, seed: int = 0, n_boot: int = 10_000
) -> tuple[float, float, float, float]:
    """Mean difference b - a over problems, its 95% percentile CI and two-sided p-value.

    Problems are resampled with replacement (the same indices for both runs). The p-value
    is the share of centred bootstrap differences at least as extreme as the observed one.
    """
    diffs = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    observed, rng, chunks = float(diffs.mean()), np.random.default_rng(seed), []
    step = max(1, 5_000_000 // max(1, len(diffs)))
    for start in range(0, n_boot, step):
        idx = rng.integers(0, len(diffs), size=(min(step, n_boot - start), len(diffs)))
        chunks.append(diffs[idx].mean(axis=1))
    means = np.concatenate(chunks)
    low, high = (float(q) for q in np.percentile(means, [2.5, 97.5]))
    extreme = np.abs(means - observed) >= abs(observed) - 1e-12
    return observed, low, high, float((1 + extreme.sum()) / (n_boot + 1))


def _outcomes(job_dir: Path) -> pd.DataFrame:
    path = job_dir / DETAILS_FILE
    try:
        import pyarrow.parquet as pq

        names = set(pq.read_schema(path).names)
        harness = {"task", "filter"} <= names  # a row per task, document and filter
        columns = ["problem_id", "sample_index", "correct", *(["task", "filter"] * harness)]
        details = pd.read_parquet(path, columns=columns)
    except (OSError, ValueError) as err:
        raise EvallaunchError(f"cannot read per-sample outcomes {path}: {err}") from None
    if harness:
        details = _harness_outcomes(details, path)
    grouped = details.groupby("problem_id", sort=True)["correct"]
    return pd.DataFrame({"score": grouped.mean(), "n": grouped.size(), "first": grouped.first()})


def _harness_outcomes(details: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A harness job's details (a row per task, document and filter): each task's first
    filter (that of its headline metric), documents keyed by task, 0/1 outcomes only."""
    first = details.drop_duplicates("task")[["task", "filter"]]
    rows = details.merge(first, on=["task", "filter"]).dropna(subset=["correct"])
    if rows.empty:
        raise EvallaunchError(
            f"{path} has no 0/1 outcome per document (its tasks' first metrics are not "
            "right/wrong), so no paired test applies"
        )
    keys = rows["task"].astype(str) + "/" + rows["problem_id"].astype(str)
    return rows.assign(problem_id=keys, correct=rows["correct"].astype(bool))


def compare_jobs(a_dir: Path, b_dir: Path, benchmark: str, seed: int = 0) -> Comparison:
    """Paired comparison of two job directories of the same benchmark."""
    a, b = _outcomes(a_dir), _outcomes(b_dir)
    both = a.merge(b, how="inner", left_index=True, right_index=True, suffixes=("_a", "_b"))
    if both.empty:
        raise EvallaunchError(f"{a_dir} and {b_dir} share no problems of {benchmark}")
    diff, low, high, p_boot = paired_bootstrap(both["score_a"], both["score_b"], seed)
    p_mcnemar = None
    if (both["n_a"] == 1).all() and (both["n_b"] == 1).all():
        only_a = int((both["first_a"] & ~both["first_b"]).sum())
        only_b = int((~both["first_a"] & both["first_b"]).sum())
        p_mcnemar = mcnemar_exact(only_a, only_b)
    return Comparison(
        benchmark,
        float(both["score_a"].mean()),
        float(both["score_b"].mean()),
        diff,
        low,
        high,
        p_boot,
        p_mcnemar,
        len(both),
        a_dir,
        b_dir,
    )


def resolve_runs(spec: str, roots: Sequence[Path]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Job directories a spec names, by benchmark: a job dir, ``model@revision`` or
    ``model:step`` (model is our model name or its name_or_path).

    Where several jobs match one benchmark, the latest finished one wins.
    """
    path = Path(spec)
    if (path / RESULTS_FILE).is_file():
        loaded = load_job(path)
        if not isinstance(loaded, dict):
            raise EvallaunchError(f"cannot compare {spec}: {loaded}")
        return {loaded["benchmark"]["name"]: (path, loaded)}
    model, revision, step = spec, None, None
    head, _, tail = spec.rpartition(":")
    if head and tail.isdigit():
        model, step = head, int(tail)
    if "@" in model:
        model, revision = model.rsplit("@", 1)
    jobs, _ = scan(roots)
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for job_dir, res in sorted(jobs, key=lambda job: job[1]["finished_at"]):
        m = res["model"]
        if (
            model in (m.get("name"), m.get("name_or_path"))
            and revision in (None, m.get("revision"))
            and (step is None or m.get("step") == step)
        ):
            found[res["benchmark"]["name"]] = (job_dir, res)
    if not found:
        raise EvallaunchError(
            f"no completed run matches {spec!r} under {', '.join(map(str, roots))}",
            hint="give a job directory, model@revision or model:step (model name as in the "
            "output tree, e.g. deepseek-ai--DeepSeek-R1-Distill-Qwen-7B@main)",
        )
    return found


def compare(a: str, b: str, roots: Sequence[Path], seed: int = 0) -> list[Comparison]:
    """Compare runs A and B on every benchmark both have (B minus A)."""
    runs_a, runs_b = resolve_runs(a, roots), resolve_runs(b, roots)
    shared = sorted(set(runs_a) & set(runs_b))
    if not shared:
        raise EvallaunchError(
            f"{a} ({', '.join(sorted(runs_a))}) and {b} ({', '.join(sorted(runs_b))}) "
            "have no benchmark in common"
        )
    return [compare_jobs(runs_a[n][0], runs_b[n][0], n, seed) for n in shared]


def format_comparisons(rows: Sequence[Comparison]) -> str:
    """One line per benchmark: A, B, B-A with its CI, p-values, verdict at 0.05."""
    lines = [
        f"{'benchmark':<16}{'A %':>7}{'B %':>7}{'B-A':>8}  {'95% CI':<16}{'p (boot)':>9}"
        f"{'p (McNemar)':>12}  verdict"
    ]
    for r in rows:
        mcnemar = "-" if r.p_mcnemar is None else f"{r.p_mcnemar:.4f}"
        verdict = "significant" if r.significant else "not significant"
        lines.append(
            f"{r.benchmark:<16}{100 * r.a:>7.1f}{100 * r.b:>7.1f}{100 * r.diff:>+8.1f}  "
            f"{f'[{100 * r.ci_low:+.1f}, {100 * r.ci_high:+.1f}]':<16}{r.p_bootstrap:>9.4f}"
            f"{mcnemar:>12}  {verdict} at {ALPHA} ({r.num_problems} problems)"
        )
    return "\n".join(lines)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _settings(job_dir: Path) -> dict[str, Any]:
    results = read_results(job_dir)
    items: dict[str, Any] = {}
    config_path = job_dir / "config.yaml"
    if config_path.is_file():
        config = yaml.safe_load(config_path.read_text()) or {}
        config = {k: v for k, v in config.items() if k not in _CONFIG_IGNORED}
        items.update(_flatten(config))
    model = {k: v for k, v in results.get("model", {}).items() if k != "resolved_path"}
    items.update(
        _flatten(
            {
                "model": model,
                "benchmark": results.get("benchmark", {}),
                "backend": results.get("backend", {}),
                "generation": results.get("generation", {}),
                # A served model: what the server said it serves (its version, its root).
                "endpoint": {
                    k: v
                    for k, v in (results.get("endpoint") or {}).items()
                    if k in ("url", "served_model", "reported", "samples_as")
                },
            }
        )
    )
    items.update({f"packages.{k}": v for k, v in results.get("packages", {}).items()})
    for key in ("seed", "num_samples", "num_problems"):
        items[key] = results.get(key)
    return {k: v for k, v in items.items() if k not in _KEYS_IGNORED}


def diff_runs(run1: Path, run2: Path) -> list[tuple[str, Any, Any]]:
    """Settings that differ between two job directories and can move the numbers.

    Reads results.json (packages, data sha256, generation, seed, model, backend, endpoint) and the
    resolved config.yaml (prompt template and other benchmark settings, model options).
    """
    first, second = _settings(run1), _settings(run2)
    missing = object()
    return [
        (key, first.get(key), second.get(key))
        for key in sorted(set(first) | set(second))
        if first.get(key, missing) != second.get(key, missing)
    ]


def format_diff(differences: Sequence[tuple[str, Any, Any]]) -> str:
    """One line per differing setting, or that nothing affecting the numbers differs."""
    if not differences:
        return "no differences that affect the numbers"
    width = max(len(key) for key, _, _ in differences)
    return "\n".join(f"{key:<{width}}  {a!r} -> {b!r}" for key, a, b in differences)
