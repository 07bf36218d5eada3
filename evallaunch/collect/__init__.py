"""Collect finished evaluation jobs into one results table; report, compare, publish.

Modules: `collection` (scan, merge, add groups: the `collect` command), `results_table`
(scan, validate, long table, merge/dedup), `suite_groups` (suite groups, headline scores),
`pass1` (pass@1 per unit and benchmark, labels, the grid), `references` (published scores
beside ours), `report` (terminal, markdown, self-contained HTML), `plots` (matplotlib
PNGs), `single_run` (a report of one run), `compare` (paired tests, run diffs), `publish`
(W&B, Hub dataset); `data/` holds the suite groups and the published reference scores. The
sub-commands live in `evallaunch.cli.results_commands`.
"""
