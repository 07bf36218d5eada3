"""math_verify without its time limits, for evallaunch's own scoring only."""

from __future__ import annotations

import functools
import importlib.util
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from evallaunch.compat import check_version


def _no_time_limit(timeout_seconds: int | None = None) -> Callable[[Any], Any]:
    return lambda func: func


@functools.cache
def _untimed(module_name: str) -> types.ModuleType:
    """A private copy of the math_verify module `module_name` whose `timeout` sets no
    alarm; the extraction config classes are math_verify's own, so configs built from
    `math_verify.LatexExtractionConfig` etc. work with the copy's `parse`."""
    import math_verify.parser

    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.loader is not None and spec.origin is not None
    name = f"{__name__}.untimed_{module_name.rsplit('.', 1)[-1]}"
    copy_spec = importlib.util.spec_from_file_location(name, spec.origin)
    assert copy_spec is not None and copy_spec.loader is not None
    module = importlib.util.module_from_spec(copy_spec)
    sys.modules[name] = module
    copy_spec.loader.exec_module(module)
    module.timeout = _no_time_limit  # type: ignore[attr-defined]
    for config in ("LatexExtractionConfig", "ExprExtractionConfig", "StringExtractionConfig"):
        if hasattr(module, config):
            setattr(module, config, getattr(math_verify.parser, config))
    return module


def parse_untimed(text: str, configs: Sequence[Any]) -> list[Any]:
    """math_verify's `parse(text, configs)` with no time limit on any step.

    math_verify 0.5 limits each step with `math_verify.utils.timeout`, a `signal.alarm`
    that fails off the main thread (the step then quietly fails) and cannot be turned off
    (`parse(..., parsing_timeout=None)` fails the same way). Its parser looks `timeout` up
    as a global of `math_verify.parser` each time it parses an expression; this calls the
    `parse` of a private copy of that module whose `timeout` is no limit. math_verify's own
    modules are left as they are, for lighteval's and lm-eval's metrics."""
    check_version("math-verify")
    return list(_untimed("math_verify.parser").parse(text, configs, parsing_timeout=None))


def verify_untimed(golds: Any, preds: Any) -> bool:
    """math_verify's `verify(golds, preds)` with no time limit on any comparison, as
    `parse_untimed` (math_verify's grader looks up the global `timeout` of
    `math_verify.grader` on each call)."""
    check_version("math-verify")
    return bool(_untimed("math_verify.grader").verify(golds, preds, timeout_seconds=None))
