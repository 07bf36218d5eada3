"""Where evallaunch reaches into a library's internals, each checked against the version
it was written for (tests/test_compat.py proves each patch still does what it claims)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import types
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


def lighteval_vllm_module() -> Any:
    """lighteval 0.13's `lighteval.models.vllm.vllm_model`, working on the installed vLLM.

    lighteval 0.13 pins vllm<0.10.2. With a newer vLLM (0.32's CPU build, 0.33) its
    `VLLMModel` is a placeholder that raises ImportError, and behind the pin the module
    imports `vllm.transformers_utils.tokenizer` and ray (gone; ray only for its
    data_parallel_size > 1 path, which evallaunch never uses), builds `LLM(swap_space=4)`
    and calls `LLM.generate(prompt_token_ids=...)` (both gone). Here the module is imported
    with those names supplied and an `LLM` that takes the old arguments."""
    check_version("lighteval")
    name = "lighteval.models.vllm.vllm_model"
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "_evallaunch_adapted", False):
        return loaded
    import lighteval.utils.imports as imports

    if importlib.util.find_spec("vllm") is None or imports.is_package_available("vllm"):
        # No vLLM (its config class still works), or the vLLM lighteval was written for.
        from lighteval.models.vllm import vllm_model as native

        native._evallaunch_adapted = True  # type: ignore[attr-defined]
        return native
    import vllm
    from vllm.inputs import TokensPrompt
    from vllm.tokenizers import get_tokenizer

    shim = types.ModuleType("vllm.transformers_utils.tokenizer")
    shim.get_tokenizer = get_tokenizer  # type: ignore[attr-defined]
    sys.modules.setdefault("vllm.transformers_utils.tokenizer", shim)
    if importlib.util.find_spec("ray") is None:
        sys.modules.setdefault("ray", types.ModuleType("ray"))
    original = imports.is_package_available

    def available(package: Any) -> bool:
        return getattr(package, "name", package) == "vllm" or bool(original(package))

    imports.is_package_available = available  # type: ignore[assignment]
    sys.modules.pop(name, None)  # imported already, with the placeholder, by the pipeline
    try:
        vllm_model = importlib.import_module(name)
    finally:
        imports.is_package_available = original

    class LLM(vllm.LLM):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("swap_space", None)
            super().__init__(*args, **kwargs)

        def generate(
            self,
            prompts: Any = None,
            sampling_params: Any = None,
            *,
            prompt_token_ids: Any = None,
            **kwargs: Any,
        ) -> Any:
            if prompt_token_ids is not None:
                prompts = [TokensPrompt(prompt_token_ids=ids) for ids in prompt_token_ids]
            return super().generate(prompts, sampling_params, **kwargs)

    vllm_model.LLM = LLM  # type: ignore[attr-defined]
    vllm_model._evallaunch_adapted = True  # type: ignore[attr-defined]
    return vllm_model


@contextlib.contextmanager
def lighteval_vllm_engine_args(**overrides: Any) -> Iterator[None]:
    """lighteval 0.13's `VLLMModel` builds `vllm.LLM(...)` with `enforce_eager=True`
    hard-coded (no CUDA graphs). Inside this block, the `LLM` it builds gets `overrides`
    instead."""
    vllm_model = lighteval_vllm_module()
    original = vllm_model.LLM

    def build(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, **overrides})

    vllm_model.LLM = build
    try:
        yield
    finally:
        vllm_model.LLM = original


def silence_progress_bars() -> None:
    """Every tqdm progress bar of this process draws into /dev/null (lm-eval passes
    `disable=False` explicitly, which TQDM_DISABLE cannot override; a disabled bar would
    break vLLM, which divides by the bar's elapsed time). Idempotent."""
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
