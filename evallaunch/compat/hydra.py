"""Hydra: its basic sweeper's expansion of sweep overrides, and job returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evallaunch.compat import check_version


def expand_overrides(
    overrides: Sequence[str], max_batch_size: int | None = None, config_loader: Any = None
) -> list[list[list[str]]]:
    """The jobs of a sweep as Hydra's basic sweeper expands them: batches (of at most
    `max_batch_size` jobs) of one override list per job, the cartesian product of every
    sweep override (`a=1,2`, `b=range(3)`) in the order Hydra launches them.

    Relies on the static `split_arguments(overrides, max_batch_size)` of `BasicSweeper`,
    which lives in the private `hydra._internal.core_plugins.basic_sweeper`."""
    check_version("hydra-core")
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create(config_loader=config_loader).parse_overrides(list(overrides))
    return BasicSweeper.split_arguments(parsed, max_batch_size)


def job_return(status: Any, value: Any = None) -> Any:
    """A Hydra `JobReturn` with `status` (a `JobStatus`) and its return value (the error
    for a failed job). The value is set through the public `return_value` setter: the
    constructor takes it only as the private field `_return_value`."""
    from hydra.core.utils import JobReturn

    result = JobReturn(status=status)
    result.return_value = value
    return result
