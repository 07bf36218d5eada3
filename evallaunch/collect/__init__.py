"""Collect finished evaluation jobs into one results table; report, compare, publish.

Modules: `table` (scan, validate, long table, merge/dedup, suite groups), `report`
(terminal, markdown, self-contained HTML), `plots` (matplotlib PNGs), `compare` (paired
tests, run diffs), `publish` (W&B, Hub dataset), `commands` (the CLI sub-commands).
Only `commands` is imported here, so that `evallaunch --help` stays fast (no pandas).
"""

from __future__ import annotations

from evallaunch.collect.commands import register_collect_commands

__all__ = ["register_collect_commands"]
