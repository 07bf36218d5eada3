"""Published reference scores (the package's collect/data/reference/) and a collected
table's pass@1 beside them: the delta, and whether each lies outside our confidence
interval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from evallaunch.collect.pass1 import pass1_cells
from evallaunch.collect.results_table import GROUP_PREFIX, UNIT
from evallaunch.errors import EvallaunchError

REFERENCE_DIR = Path(str(resources.files("evallaunch.collect") / "data" / "reference"))


@dataclass(frozen=True)
class Reference:
    """Published numbers: ``values[(hub_id, benchmark)]`` is a fraction in [0, 1]."""

    name: str
    title: str
    source: str
    values: dict[tuple[str, str], float]


def load_references(directory: Path = REFERENCE_DIR) -> list[Reference]:
    """Every reference file of the package's collect/data/reference/ (``models: {hub_id:
    {benchmark: percent}}``)."""
    refs = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text())
            values = {
                (str(hub_id), str(bench)): float(value) / 100.0
                for hub_id, scores in data["models"].items()
                for bench, value in scores.items()
            }
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as err:
            raise EvallaunchError(f"invalid reference file {path}: {err}") from None
        refs.append(
            Reference(
                data.get("name", path.stem),
                data.get("title", path.stem),
                str(data.get("source", "")),
                values,
            )
        )
    return refs


def compare_to_references(table: pd.DataFrame, refs: Sequence[Reference]) -> pd.DataFrame:
    """Our pass@1 beside each published number, the delta, and whether it lies outside our CI.

    Models are matched by Hub id: our name ``org--name`` or our name_or_path ``org/name``.
    """
    cells = pass1_cells(table)
    cells = cells[~cells["benchmark"].str.startswith(GROUP_PREFIX)]
    out = []
    for ref in refs:
        for (hub_id, bench), ref_value in ref.values.items():
            match = cells[
                (cells["benchmark"] == bench)
                & (
                    (cells["model"] == hub_id.replace("/", "--"))
                    | (cells["name_or_path"] == hub_id)
                )
            ]
            for _, row in match.iterrows():
                low, high = row["ci_low"], row["ci_high"]
                if pd.isna(low) or pd.isna(high):
                    low, high = (row["value"] + k * 1.96 * row["stderr"] for k in (-1, 1))
                outside = bool(not pd.isna(low) and not low <= ref_value <= high)
                out.append(
                    {
                        **{c: row[c] for c in [*UNIT, "benchmark", "variant", "value"]},
                        "stderr": row["stderr"],
                        "ci_low": low,
                        "ci_high": high,
                        "reference": ref.name,
                        "reference_title": ref.title,
                        "reference_value": ref_value,
                        "delta": row["value"] - ref_value,
                        "outside_ci": outside,
                    }
                )
    return pd.DataFrame(out)
