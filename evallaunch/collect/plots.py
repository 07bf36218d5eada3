"""PNG plots of a collected table (matplotlib, Agg canvas, no display needed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evallaunch.collect.pass1 import pass1_cells, unit_label
from evallaunch.collect.results_table import GROUP_PREFIX


@dataclass(frozen=True)
class PlotFile:
    """A written plot: its file, the model it shows and its kind (curve or bars)."""

    path: Path
    model: str
    kind: str


def safe_name(text: str) -> str:
    """A file-name friendly version of `text`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "plot"


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight")
    return path


def learning_curves(table: pd.DataFrame, out_dir: Path) -> list[PlotFile]:
    """pass@1 vs step (or tokens trained, when every point has it), one line per benchmark.

    One PNG per (model, backend) that has at least two distinct steps; the band is the
    bootstrap 95% CI (ci_low..ci_high).
    """
    cells = pass1_cells(table)
    cells = cells[~cells["benchmark"].str.startswith(GROUP_PREFIX) & cells["step"].notna()]
    written = []
    for (model, backend), frame in cells.groupby(["model", "backend"], sort=True):
        if frame["step"].nunique() < 2:
            continue
        use_tokens = bool(frame["tokens_trained"].notna().all())
        x_col = "tokens_trained" if use_tokens else "step"
        fig = Figure(figsize=(7, 4.2))
        ax = fig.add_subplot()
        for bench, points in frame.groupby("benchmark", sort=True):
            points = points.sort_values(x_col)
            x = points[x_col].to_numpy(dtype="float64")
            ax.plot(x, 100 * points["value"].to_numpy(dtype="float64"), marker="o", label=bench)
            low = points["ci_low"].to_numpy(dtype="float64")
            high = points["ci_high"].to_numpy(dtype="float64")
            if not np.isnan(low).all():
                ax.fill_between(x, 100 * low, 100 * high, alpha=0.2)
        ax.set_xlabel("tokens trained" if use_tokens else "step")
        ax.set_ylabel("pass@1 (%)")
        ax.set_title(f"{model} [{backend}]", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        path = out_dir / f"curve_{safe_name(model)}_{safe_name(backend)}.png"
        written.append(PlotFile(_save(fig, path), model, "curve"))
    return written


def reference_bars(comparison: pd.DataFrame, out_dir: Path) -> list[PlotFile]:
    """Grouped bars per benchmark: ours (with its 95% CI) beside each published number.

    One PNG per evaluated unit (model, revision, step, backend) that has a reference.
    """
    if comparison.empty:
        return []
    written = []
    units = comparison.groupby(["model", "revision", "step", "backend"], dropna=False, sort=True)
    for _, frame in units:
        first = frame.iloc[0]
        benches = sorted(frame["benchmark"].unique())
        refs = sorted(frame["reference_title"].unique())
        ours = frame.drop_duplicates("benchmark").set_index("benchmark").loc[benches]
        width = 0.8 / (1 + len(refs))
        x = np.arange(len(benches))
        fig = Figure(figsize=(1.8 + 1.6 * len(benches), 4.2))
        ax = fig.add_subplot()
        value = 100 * ours["value"].to_numpy(dtype="float64")
        err = np.vstack(
            [
                value - 100 * ours["ci_low"].to_numpy(dtype="float64"),
                100 * ours["ci_high"].to_numpy(dtype="float64") - value,
            ]
        )
        ax.bar(x, value, width, yerr=np.nan_to_num(err.clip(0)), capsize=3, label="ours")
        for i, ref in enumerate(refs, start=1):
            rows = frame[frame["reference_title"] == ref].drop_duplicates("benchmark")
            published = rows.set_index("benchmark")["reference_value"].reindex(benches)
            ax.bar(x + i * width, 100 * published.to_numpy(dtype="float64"), width, label=ref)
        ax.set_xticks(x + width * len(refs) / 2, benches)
        ax.set_ylabel("pass@1 (%)")
        ax.set_title(unit_label(first), fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        step = "" if pd.isna(first["step"]) else f"_step{first['step']}"
        name = safe_name(f"{first['model']}_{first['revision']}{step}_{first['backend']}")
        written.append(PlotFile(_save(fig, out_dir / f"bars_{name}.png"), first["model"], "bars"))
    return written


def token_lengths(job_dir: Path, label: str, out_dir: Path) -> list[PlotFile]:
    """One run's completion lengths in tokens, right and wrong samples apart (a run cut off
    by max_new_tokens shows as a wall at the right)."""
    details = pd.read_parquet(job_dir / "details.parquet")
    if "num_tokens" not in details or details["num_tokens"].isna().all():
        return []
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    tokens = details["num_tokens"].astype("float64")
    bins = list(np.linspace(0, float(tokens.max()) or 1.0, 31))
    for correct, name in ((True, "right"), (False, "wrong")):
        values = tokens[details["correct"] == correct].dropna()
        if len(values):
            ax.hist(values, bins=bins, alpha=0.6, label=f"{name} ({len(values)})")
    ax.set_xlabel("completion length (tokens)")
    ax.set_ylabel("samples")
    ax.set_title(label, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    path = out_dir / f"lengths_{safe_name(label)}.png"
    return [PlotFile(_save(fig, path), label, "lengths")]
