"""What a report adds when it is about one run: its per-problem outcomes, and what says a
run was limited to its first problems (a smoke test, not a score)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evallaunch.collect.pass1 import unit_label
from evallaunch.collect.results_table import GROUP_PREFIX
from evallaunch.errors import EvallaunchError
from evallaunch.job.results import DETAILS_FILE
from evallaunch.job.summary import answer_text

# Problems listed in a single run's report.
SHOWN_PROBLEMS = 50


def single_job_dir(table: pd.DataFrame) -> Path | None:
    """The job directory when the table holds exactly one job, with its details."""
    jobs = table.loc[~table["benchmark"].str.startswith(GROUP_PREFIX), "job_dir"]
    jobs = jobs[jobs != ""].unique()
    if len(jobs) != 1 or not (Path(jobs[0]) / DETAILS_FILE).is_file():
        return None
    return Path(jobs[0])


def problem_outcomes(job_dir: Path, shown: int = SHOWN_PROBLEMS) -> pd.DataFrame:
    """One row per problem (the first `shown`): the gold answer, the first sample's
    extracted answer, how many samples were right, the mean completion length."""
    details = pd.read_parquet(job_dir / DETAILS_FILE)
    if "problem_id" not in details or "correct" not in details:  # a harness task's rows
        return pd.DataFrame()
    rows = []
    for problem, samples in details.groupby("problem_id", sort=False):
        first = samples.iloc[0]
        tokens = samples["num_tokens"].mean() if "num_tokens" in samples else None
        rows.append(
            {
                "problem": str(problem),
                "gold": str(first.get("gold", "")),
                "answer (sample 0)": answer_text(first.get("extracted_answer")),
                "right": f"{int(samples['correct'].sum())}/{len(samples)}",
                "tokens": "-" if tokens is None or pd.isna(tokens) else f"{tokens:.0f}",
            }
        )
        if len(rows) == shown:
            break
    return pd.DataFrame(rows)


def limited_runs(table: pd.DataFrame) -> pd.DataFrame:
    """One row for each run limited to its first problems (`benchmark.limit`: variant
    `...,limit=N`)."""
    rows = table[~table["benchmark"].str.startswith(GROUP_PREFIX)]
    rows = rows[rows["variant"].astype(str).str.contains("limit=")]
    return rows.drop_duplicates(["model", "revision", "step", "backend", "benchmark", "variant"])


def limited_lines(table: pd.DataFrame) -> list[str]:
    """A line for each run limited to its first problems, marking it as a smoke test."""
    return [
        f"{unit_label(r)} {r['benchmark']} ({r['variant']}): limited to its first "
        f"{r['num_problems']} problems, a smoke test rather than a score"
        for _, r in limited_runs(table).iterrows()
    ]


def refuse_limited(table: pd.DataFrame) -> None:
    """Refuse to publish a table with runs limited to their first problems: a published
    table is read as scores."""
    limited = limited_runs(table)
    if not len(limited):
        return
    jobs = sorted(
        {f"{r.model}@{r.revision} {r.benchmark} ({r.variant})" for r in limited.itertuples()}
    )
    raise EvallaunchError(
        f"{len(jobs)} job(s) to publish ran on their first problems only (benchmark.limit): "
        + "; ".join(jobs[:5])
        + (" ..." if len(jobs) > 5 else ""),
        hint="a limited run is a smoke test, not a score: collect without it, or publish it "
        "anyway with --include-limited",
    )
