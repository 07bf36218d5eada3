"""Where evallaunch reaches into a library's internals, each checked against the version
it was written for (tests/test_compat.py proves each patch still does what it claims)."""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Iterator
from typing import Any

from evallaunch.errors import EvallaunchError

#: The versions the patches below were written for.
PINNED = {"lighteval": "0.13.0"}


def check_version(package: str) -> None:
    """Fail clearly when `package` is not the version evallaunch's patches expect."""
    try:
        found = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return  # the import itself reports the missing package
    if found != PINNED[package]:
        raise EvallaunchError(
            f"{package} {found} is installed; evallaunch works with {package}=={PINNED[package]}",
            hint=f"pip install '{package}=={PINNED[package]}' (see requirements.lock)",
        )


@contextlib.contextmanager
def lighteval_vllm_engine_args(**overrides: Any) -> Iterator[None]:
    """lighteval 0.13's `VLLMModel` builds `vllm.LLM(...)` with `enforce_eager=True`
    hard-coded (no CUDA graphs). Inside this block, the `LLM` it builds gets `overrides`
    instead."""
    check_version("lighteval")
    from lighteval.models.vllm import vllm_model

    original = vllm_model.LLM

    def build(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, **overrides})

    vllm_model.LLM = build
    try:
        yield
    finally:
        vllm_model.LLM = original


def silence_progress_bars() -> None:
    """Every tqdm progress bar of this process is created disabled (lm-eval passes
    `disable=False` explicitly, which TQDM_DISABLE cannot override). Idempotent."""
    from tqdm import std

    if getattr(std.tqdm.__init__, "_evallaunch_silenced", False):
        return
    original = std.tqdm.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        original(self, *args, **kwargs)

    init._evallaunch_silenced = True  # type: ignore[attr-defined]
    std.tqdm.__init__ = init
