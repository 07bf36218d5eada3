"""`collect`: scan job directories, merge with earlier tables (the newest eval wins) and
recompute the group rows (``benchmark="group:<name>"``) from the merged table, so that
collecting is idempotent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evallaunch.collect.results_table import KEY, Skipped, long_table, merge_tables, scan
from evallaunch.collect.suite_groups import group_rows, load_groups
from evallaunch.config.suites import suite_groups


@dataclass
class Collection:
    """The outcome of `collect`: the merged table and what was left out.

    Attributes:
        table: The long table, merged, deduplicated, with group rows.
        new_rows: The rows read from the scanned roots alone (no group rows).
        skipped: One entry per job directory that was not usable.
        coverage: Per (model, revision, step, backend, group): members found and missing.
        groups: The groups the group rows come from (the suites of the scanned jobs too).
        aggregates: The variants each suite's group reports.
    """

    table: pd.DataFrame
    new_rows: pd.DataFrame
    skipped: list[Skipped]
    coverage: pd.DataFrame
    groups: dict[str, list[str]] = field(default_factory=dict)
    aggregates: dict[str, list[str]] = field(default_factory=dict)


def collect(
    roots: Sequence[Path],
    existing: Sequence[pd.DataFrame] = (),
    groups: Mapping[str, list[str]] | None = None,
) -> Collection:
    """Scan `roots`, merge with `existing` tables (newest eval wins) and add group rows.

    Args:
        roots: Output roots (or sweep or job directories) to scan.
        existing: Earlier tables to merge with (a local table file, the Hub's table).
        groups: Suite groups; None reads evallaunch/collect/data/groups.yaml. The suites
            the scanned jobs ran (conf/suite/) are groups too, with their own aggregates.

    Returns:
        The collection: merged table, this scan's own rows, skipped jobs, group coverage.
    """
    jobs, skipped = scan(roots)
    new_rows = long_table(jobs)
    merged = merge_tables([*existing, new_rows])
    suites = suite_groups([results for _, results in jobs])
    every = {
        **(load_groups() if groups is None else groups),
        **{name: suite["members"] for name, suite in suites.items()},
    }
    aggregates = {name: suite["aggregate"] for name, suite in suites.items()}
    extra, coverage = group_rows(merged, every, aggregates)
    table = pd.concat([merged, extra], ignore_index=True).sort_values(KEY, ignore_index=True)
    return Collection(table, new_rows, skipped, coverage, every, aggregates)
