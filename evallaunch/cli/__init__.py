"""`evallaunch`: the commands that are not a Hydra job. `main` parses the sub-commands;
`evaluation_commands` holds prepare, score, plan, status, cancel and resubmit;
`results_commands` holds collect, compare and diff."""

from evallaunch.cli.main import main

__all__ = ["main"]
