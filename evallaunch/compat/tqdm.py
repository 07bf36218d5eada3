"""tqdm: every progress bar of the process drawn into /dev/null."""

from __future__ import annotations

import os
from typing import Any

from evallaunch.compat import check_version


def silence_progress_bars() -> None:
    """Every tqdm progress bar of this process draws into /dev/null. Idempotent.

    Relies on `tqdm.std.tqdm.__init__` being the constructor of every bar (tqdm.auto's and
    tqdm.asyncio's bars subclass it) and on its `file` argument: the constructor is
    replaced by one that always passes `file=/dev/null`. lm-eval passes `disable=False`
    explicitly, which TQDM_DISABLE cannot override; a disabled bar would break vLLM, which
    divides by the bar's elapsed time."""
    check_version("tqdm")
    from tqdm import std

    if getattr(std.tqdm.__init__, "_evallaunch_silenced", False):
        return
    original = std.tqdm.__init__
    sink = open(os.devnull, "w")  # noqa: SIM115  (open for the life of the process)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["file"] = sink
        original(self, *args, **kwargs)

    init._evallaunch_silenced = True  # type: ignore[attr-defined]
    std.tqdm.__init__ = init
