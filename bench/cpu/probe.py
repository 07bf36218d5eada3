"""Run a Python module with some of its functions timed: where a process spends its time.
A helper of cpu/throughput.py, baselines/overhead.py (--explain) and gpu/check.py; it
compares nothing itself.

    python bench/cpu/probe.py OUT.json MODULE [ARGS...]

Runs MODULE as __main__ with ARGS and writes to OUT.json, in seconds since this script
started: for transformers' `GenerationMixin.generate` (what both lighteval's and lm-eval's
in-process models call) the number of calls, seconds inside and new tokens (output length
minus prompt length), and for every function named in BENCH_PROBE_FUNCS
("module:attr" or "module:Class.method", comma-separated) its calls, seconds inside, first
start and last end. The functions are looked up, and replaced, before MODULE runs.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.util
import json
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

START = time.perf_counter()
GENERATE: dict[str, Any] = {"calls": 0, "generate_s": 0.0, "new_tokens": 0, "first_call_s": None}
TIMERS: dict[str, dict[str, Any]] = {}


def _patch_generate(module: Any) -> None:
    original = module.GenerationMixin.generate

    def generate(self, *args, **kwargs):
        inputs = kwargs.get("input_ids", kwargs.get("inputs", args[0] if args else None))
        began = time.perf_counter()
        if GENERATE["first_call_s"] is None:
            GENERATE["first_call_s"] = began - START
        out = original(self, *args, **kwargs)
        GENERATE["generate_s"] += time.perf_counter() - began
        GENERATE["calls"] += 1
        sequences = getattr(out, "sequences", out)
        prompt_shape = getattr(inputs, "shape", None)
        if prompt_shape is not None and hasattr(sequences, "shape"):
            new = int(sequences.shape[1] - prompt_shape[-1])
            GENERATE["new_tokens"] += int(sequences.shape[0]) * new
        return out

    module.GenerationMixin.generate = generate


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Calls `patch(module)` right after `name` is first imported (one shot), so that the
    probe does not import the module (here: transformers and torch) earlier than the
    program would."""

    def __init__(self, name: str, patch: Any) -> None:
        self.name, self.patch = name, patch

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module: Any) -> None:
            exec_module(module)
            self.patch(module)

        spec.loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def _timed(name: str, fn: Any) -> Any:
    stats = TIMERS[name] = {"calls": 0, "s": 0.0, "first_start_s": None, "last_end_s": None}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        if stats["first_start_s"] is None:
            stats["first_start_s"] = began - START
        try:
            return fn(*args, **kwargs)
        finally:
            ended = time.perf_counter()
            stats["calls"] += 1
            stats["s"] += ended - began
            stats["last_end_s"] = ended - START

    return wrapper


def _patch_functions(spec: str) -> None:
    for name in [s.strip() for s in spec.split(",") if s.strip()]:
        module_name, _, attr = name.partition(":")
        owner: Any = importlib.import_module(module_name)
        *path, leaf = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, leaf, _timed(name, getattr(owner, leaf)))


def main() -> None:
    out_path, module, *args = sys.argv[1:]
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
    sys.meta_path.insert(0, _PatchOnImport("transformers.generation.utils", _patch_generate))
    _patch_functions(os.environ.get("BENCH_PROBE_FUNCS", ""))
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        report = {**GENERATE, "functions": TIMERS, "process_s": time.perf_counter() - START}
        Path(out_path).write_text(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
