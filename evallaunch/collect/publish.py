"""Publish a collected table: W&B runs (offline unless configured) and a Hub dataset repo.

Only `sync_hub` talks to the network; everything it decides comes from `plan_hub_commit`,
which works on local data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evallaunch.collect.pass1 import pass1_cells
from evallaunch.collect.plots import PlotFile, safe_name
from evallaunch.collect.results_table import (
    GROUP_PREFIX,
    HUB_TABLE,
    KEY,
    merge_tables,
    read_table,
    write_table,
)
from evallaunch.collect.single_run import refuse_limited
from evallaunch.collect.suite_groups import headline, with_groups
from evallaunch.errors import EvallaunchError, require
from evallaunch.job.results import DETAILS_FILE

SUMMARY_COLUMNS = [
    "model",
    "revision",
    "step",
    "benchmark",
    "variant",
    "backend",
    "value",
    "stderr",
    "ci_low",
    "ci_high",
    "num_problems",
    "num_samples",
    "eval_date",
]


def details_files(rows: pd.DataFrame) -> dict[str, Path]:
    """``{path in the repo/artifact: local details.parquet}`` for the rows' job dirs."""
    out = {}
    jobs = rows[rows["job_dir"] != ""].drop_duplicates("job_dir")
    for _, r in jobs.iterrows():
        local = Path(r["job_dir"]) / DETAILS_FILE
        if local.is_file():
            step = "" if pd.isna(r["step"]) else f"step-{r['step']}/"
            parts = [r["model"], r["revision"], r["benchmark"], r["backend"], r["variant"]]
            name = "/".join(safe_name(str(p)) for p in parts[:2]) + f"/{step}"
            out[name + "/".join(safe_name(str(p)) for p in parts[2:]) + f"/{DETAILS_FILE}"] = local
    return out


def _records(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[SUMMARY_COLUMNS].copy()
    frame["eval_date"] = frame["eval_date"].astype(str)
    return frame.astype(object).where(frame.notna(), None)


def publish_wandb(
    table: pd.DataFrame,
    out_dir: Path,
    *,
    project: str = "evallaunch",
    per_model: bool = False,
    plots: Sequence[PlotFile] = (),
    details: Mapping[str, Path] | None = None,
    name: str | None = None,
) -> list[Path]:
    """Log the table to W&B: one run per collect, or one per model with `per_model`.

    Each run logs the pass@1 summary as a ``wandb.Table`` (``results``), pass@1 per
    benchmark against ``step`` (keys ``pass@1/[model/]benchmark/backend``, x-axis set with
    ``define_metric``), the plots as ``wandb.Image`` and the details files as an artifact
    (type ``eval-details``). WANDB_MODE defaults to offline; runs are written under out_dir.

    Returns:
        The run directories (``out_dir/wandb/<offline-run-...>``).
    """
    os.environ.setdefault("WANDB_MODE", "offline")
    wandb: Any = require("wandb", "publish")
    summary = table[headline(table)]
    details = details or {}
    batches = list(summary.groupby("model", sort=True)) if per_model else [(None, summary)]
    run_dirs = []
    for model, frame in batches:
        run = wandb.init(
            project=project,
            dir=str(out_dir),
            name=f"{name or 'collect'}-{model}" if model else name,
            job_type="collect",
            config={"models": sorted(frame["model"].unique()), "rows": len(frame)},
            reinit="create_new",
            settings=wandb.Settings(silent=True),
        )
        try:
            _log_run(wandb, run, frame, model is None, plots, details, model)
            run_dirs.append(Path(run.dir).parent)
        finally:
            run.finish()
    return run_dirs


def _log_run(
    wandb: Any,
    run: Any,
    frame: pd.DataFrame,
    with_model: bool,
    plots: Sequence[PlotFile],
    details: Mapping[str, Path],
    model: str | None,
) -> None:
    run.define_metric("step")
    run.define_metric("pass@1/*", step_metric="step")
    cells = pass1_cells(frame)
    plain = cells[~cells["benchmark"].str.startswith(GROUP_PREFIX)]
    keys = [
        "/".join(["pass@1", *([m] if with_model else []), b, e])
        for m, b, e in zip(plain["model"], plain["benchmark"], plain["backend"], strict=True)
    ]
    plain = plain.assign(key=keys)
    for step, rows in plain[plain["step"].notna()].groupby("step", sort=True):
        run.log({"step": int(step), **dict(zip(rows["key"], rows["value"], strict=True))})
    latest = plain.sort_values(["step", "eval_date"], na_position="first")
    run.summary.update(dict(zip(latest["key"], latest["value"], strict=True)))
    run.log({"results": wandb.Table(dataframe=_records(frame))})
    images = {
        f"plots/{p.path.stem}": wandb.Image(str(p.path))
        for p in plots
        if model is None or p.model == model
    }
    if images:
        run.log(images)
    files = {
        k: v for k, v in details.items() if model is None or k.startswith(f"{safe_name(model)}/")
    }
    if files:
        artifact = wandb.Artifact(safe_name(f"details-{model or 'collect'}"), type="eval-details")
        for path_in_artifact, local in sorted(files.items()):
            artifact.add_file(str(local), name=path_in_artifact, policy="immutable")
        run.log_artifact(artifact)


def changed_rows(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """Rows of `new` that merging into `old` adds or updates, with a ``change`` column.

    ``change`` is "added" (key not in `old`), "updated" (a later eval_date) or "unchanged".
    """
    new = new[~new["benchmark"].str.startswith(GROUP_PREFIX)]
    if old is None or not len(old):
        return new.assign(change="added")
    old = old.loc[~old["benchmark"].str.startswith(GROUP_PREFIX), [*KEY, "eval_date"]]
    joined = new.merge(old, on=KEY, how="left", suffixes=("", "_old"), indicator=True)
    matched = joined["_merge"] == "both"
    newer = matched & (joined["eval_date"] > joined["eval_date_old"])
    change = np.select([~matched, newer], ["added", "updated"], "unchanged")
    return joined.drop(columns=["eval_date_old", "_merge"]).assign(change=change)


@dataclass
class HubPlan:
    """What one collect commits to the Hub dataset repo.

    Attributes:
        repo_id: The dataset repo.
        table: The merged table that would be (or was) uploaded.
        added: Rows new to the repo's table.
        updated: Rows replaced by a later evaluation.
        unchanged: Rows already there.
        files: Paths in the repo that the commit writes.
        operations: The commit's ``CommitOperationAdd`` list (empty: nothing to commit).
        message: The commit message.
    """

    repo_id: str
    table: pd.DataFrame
    added: int
    updated: int
    unchanged: int
    files: list[str] = field(default_factory=list)
    operations: list[Any] = field(default_factory=list)
    message: str = ""

    def describe(self) -> str:
        """Readable summary: counts and files."""
        head = (
            f"{self.repo_id}: {self.added} rows added, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )
        if not self.operations:
            return head + "; nothing to commit"
        return "\n".join([head + f"; commit {self.message!r}:", *(f"  {f}" for f in self.files)])


def plan_hub_commit(
    table: pd.DataFrame,
    existing: pd.DataFrame | None,
    repo_id: str,
    staging_dir: Path,
    groups: Mapping[str, list[str]],
    aggregates: Mapping[str, Sequence[str]] | None = None,
    include_limited: bool = False,
) -> HubPlan:
    """Merge `table` into the repo's `existing` table and list the commit's operations.

    The merged table is written to ``staging_dir/table.parquet``; details files are added
    for the rows that are new or updated. Rows of runs limited to their first problems
    (`benchmark.limit`: smoke tests, variant `...,limit=N`) are refused unless
    `include_limited`: a published table is read as scores.
    """
    from huggingface_hub import CommitOperationAdd

    if not include_limited:
        refuse_limited(table)
    changes = changed_rows(existing, table)
    counts = {c: int((changes["change"] == c).sum()) for c in ("added", "updated", "unchanged")}
    merged = merge_tables([existing, table] if existing is not None else [table])
    merged = with_groups(merged, groups, aggregates)
    plan = HubPlan(repo_id, merged, counts["added"], counts["updated"], counts["unchanged"])
    if not counts["added"] and not counts["updated"]:
        return plan
    staged = write_table(merged, staging_dir / HUB_TABLE)[0]
    changed = changes[changes["change"] != "unchanged"]
    files = {HUB_TABLE: staged, **{f"details/{k}": v for k, v in details_files(changed).items()}}
    plan.files = sorted(files)
    plan.operations = [CommitOperationAdd(p, str(files[p])) for p in plan.files]
    models = merged.loc[merged["job_dir"] != "", "model"].nunique()
    plan.message = (
        f"evallaunch collect: {counts['added']} rows added, {counts['updated']} "
        f"updated ({models} models in the table)"
    )
    return plan


def sync_hub(
    repo_id: str,
    table: pd.DataFrame,
    staging_dir: Path,
    groups: Mapping[str, list[str]],
    aggregates: Mapping[str, Sequence[str]] | None = None,
    *,
    dry_run: bool = False,
    token: str | None = None,
    include_limited: bool = False,
) -> HubPlan:
    """Fetch the repo's table, merge, and commit once (the only network access). Rows of
    limited runs are refused before any network access, unless `include_limited`.

    Args:
        repo_id: Dataset repo ``org/name`` (created when missing).
        table: The collected table.
        staging_dir: Local folder for the downloaded and the merged table.
        groups: Suite groups to recompute on the merged table.
        aggregates: The variants a group reports (a suite's `aggregate`; default both).
        dry_run: Plan only; commit nothing.
        token: Hub token (default: the logged-in one / HF_TOKEN).

    Returns:
        The plan (with the merged table), committed unless `dry_run`.
    """
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError
    from huggingface_hub.errors import RepositoryNotFoundError as NoRepo

    if not include_limited:
        refuse_limited(table)
    try:
        path = hf_hub_download(
            repo_id, HUB_TABLE, repo_type="dataset", token=token, local_dir=staging_dir / "remote"
        )
        existing = read_table(Path(path))
    except LocalEntryNotFoundError as err:
        raise EvallaunchError(
            f"the Hub is not reachable ({err})",
            hint="check the network (and that HF_HUB_OFFLINE is unset), or drop --hub-repo",
        ) from None
    except (EntryNotFoundError, NoRepo):
        existing = None
    except Exception as err:  # network and HTTP errors of any kind
        raise EvallaunchError(f"cannot read {repo_id} from the Hub: {err}") from None
    plan = plan_hub_commit(
        table, existing, repo_id, staging_dir, groups, aggregates, include_limited=True
    )  # refused above
    if not dry_run and plan.operations:
        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        api.create_commit(
            repo_id, plan.operations, commit_message=plan.message, repo_type="dataset"
        )
    return plan
