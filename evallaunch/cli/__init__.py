"""`evallaunch`: the commands that are not a Hydra job. `main` parses the sub-commands;
`evaluation_commands` holds prepare, score, plan, status, cancel and resubmit;
`results_commands` holds collect, compare and diff; `harness_commands` tasks and
prepare --task. They call `evallaunch.api` and the layers below."""

from evallaunch.cli.main import main

__all__ = ["main"]
