"""Collect finished evaluation jobs into one results table; report, compare, publish.

Modules: `results_table` (scan, validate, long table, merge/dedup, suite groups), `report`
(terminal, markdown, self-contained HTML), `plots` (matplotlib PNGs), `compare` (paired
tests, run diffs), `publish` (W&B, Hub dataset); `data/` holds the suite groups and the
published reference scores. The sub-commands live in `evallaunch.cli.results_commands`.
"""
