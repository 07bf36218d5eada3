"""Suite groups (collect/data/groups.yaml): each benchmark's headline score, and per unit
and group the macro and problem-weighted average of its members' headline scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from evallaunch.collect.results_table import GROUP_PREFIX, KEY, UNIT, normalize
from evallaunch.errors import EvallaunchError

GROUPS_FILE = Path(str(resources.files("evallaunch.collect") / "data" / "groups.yaml"))


def load_groups(path: Path = GROUPS_FILE) -> dict[str, list[str]]:
    """Suite groups, e.g. ``{"reasoning": ["aime24", ...]}``, from the package's
    collect/data/groups.yaml."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise EvallaunchError(f"cannot read the suite groups {path}: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise EvallaunchError(f"{path}: expected `name: [benchmark, ...]` entries")
    return {str(k): [str(b) for b in v] for k, v in data.items()}


def best_rows(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One row per `by`: most problems, then most samples, then the latest eval."""
    order = frame.sort_values(["num_problems", "num_samples", "eval_date"], kind="stable")
    return order.drop_duplicates(by, keep="last")


def headline(table: pd.DataFrame) -> pd.Series:
    """The rows of each benchmark's headline score: pass@1, or for a harness task (which
    has none) the first metric it reports, e.g. `exact_match,strict-match`."""
    is_pass1 = table["metric"] == "pass@1"
    others = table[~table["benchmark"].isin(set(table.loc[is_pass1, "benchmark"]))]
    first = others.drop_duplicates("benchmark").set_index("benchmark")["metric"]
    return is_pass1 | (table["metric"] == table["benchmark"].map(first))


def group_rows(
    table: pd.DataFrame,
    groups: Mapping[str, list[str]],
    aggregates: Mapping[str, Sequence[str]] | None = None,
) -> tuple[pd.DataFrame, ...]:
    """Macro and problem-weighted pass@1 per unit and group, and the coverage of each group;
    `aggregates` may name the variants a group reports (a suite's `aggregate`).

    Returns:
        (rows, coverage): rows for units that have every member (variants ``macro`` and
        ``weighted``); coverage lists each unit and group with the members found/missing.
    """
    plain = table[headline(table) & ~table["benchmark"].str.startswith(GROUP_PREFIX)]
    best = best_rows(plain, [*UNIT, "benchmark"])
    w = best["num_problems"].astype("float64")
    best = best.assign(w=w, wv=w * best["value"], se2=best["stderr"] ** 2)
    best = best.assign(wse2=(w * best["stderr"]) ** 2)
    sums = {c: "sum" for c in ("value", "se2", "wv", "w", "wse2", "num_problems")}
    firsts = {c: "first" for c in ("tokens_trained", "experiment", "name_or_path")}
    rows, coverage = [], []
    for name, members in groups.items():
        grouped = best[best["benchmark"].isin(members)].groupby(UNIT, dropna=False, sort=True)
        if not grouped.ngroups:
            continue
        agg = grouped.agg(
            {"benchmark": "nunique", "stderr": "count", "eval_date": "max", **sums, **firsts}
        )
        agg["missing"] = grouped["benchmark"].agg(lambda s, m=members: sorted(set(m) - set(s)))
        agg = agg.rename(columns={"benchmark": "found"}).reset_index()
        coverage.append(agg[[*UNIT, "found", "missing"]].assign(group=name, size=len(members)))
        full, k = agg[agg["found"] == len(members)], len(members)
        for variant, value, stderr in (
            ("macro", full["value"] / k, np.sqrt(full["se2"]) / k),
            ("weighted", full["wv"] / full["w"], np.sqrt(full["wse2"]) / full["w"]),
        ):
            if variant not in (aggregates or {}).get(name, (variant,)):
                continue
            stderr = stderr.where(full["stderr"] == k)  # every member has a stderr
            part = full[[*UNIT, "num_problems", "eval_date", *firsts]]
            rows.append(part.assign(benchmark=GROUP_PREFIX + name, variant=variant, value=value))
            rows[-1]["stderr"] = stderr
    out = normalize(pd.concat(rows, ignore_index=True) if rows else pd.DataFrame())
    out["metric"] = "pass@1"
    out["ci_low"] = (out["value"] - 1.96 * out["stderr"]).clip(0.0, 1.0)
    out["ci_high"] = (out["value"] + 1.96 * out["stderr"]).clip(0.0, 1.0)
    return out, pd.concat(coverage, ignore_index=True) if coverage else pd.DataFrame()


def with_groups(
    merged: pd.DataFrame,
    groups: Mapping[str, list[str]],
    aggregates: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """`merged` plus its group rows, sorted by the key."""
    extra, _ = group_rows(merged, groups, aggregates)
    return pd.concat([merged, extra], ignore_index=True).sort_values(KEY, ignore_index=True)
