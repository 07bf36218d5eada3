"""Training checkpoints: find them (local `checkpoint-*` dirs or Hub branches), select some,
derive step and tokens trained, and write the sweep's manifest."""

from __future__ import annotations

import glob
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evallaunch.errors import EvallaunchError

HUB_PREFIX = "hf://"
_STEP = re.compile(r"(?:checkpoint|step|iter|global_step)[-_]?(\d+)$", re.IGNORECASE)
SELECTORS = ("all", "latest", "every:K", "last:N", "steps:S1,S2,...")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint: a local directory, or a revision (branch) of a Hub repository."""

    name_or_path: str
    revision: str
    step: int | None
    tokens_trained: int | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens": human_tokens(self.tokens_trained)}


def step_of(name: str | None) -> int | None:
    """The training step in a checkpoint's name: checkpoint-500, step_500, global_step500."""
    if not name:
        return None
    match = _STEP.search(Path(str(name).rstrip("/")).name)
    return int(match.group(1)) if match else None


def tokens_seen(path: str | Path) -> int | None:
    """Tokens trained as recorded by transformers' Trainer (`num_input_tokens_seen`)."""
    state = Path(path) / "trainer_state.json"
    try:
        value = json.loads(state.read_text()).get("num_input_tokens_seen")
    except (OSError, ValueError):
        return None
    return int(value) if value else None


def tokens_trained(path: str, step: int | None, tokens_per_step: int | None) -> int | None:
    """step x tokens_per_step when given, else what the trainer recorded, else unknown."""
    if step is not None and tokens_per_step:
        return step * tokens_per_step
    return tokens_seen(path)


def human_tokens(tokens: int | None) -> str:
    """1234567 -> '1.2M' (K, M, B, T)."""
    if tokens is None:
        return "-"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if tokens >= size:
            return f"{tokens / size:.1f}{unit}"
    return str(tokens)


def list_local(pattern: str, tokens_per_step: int | None) -> list[Checkpoint]:
    paths = sorted(p for p in glob.glob(str(Path(pattern).expanduser())) if Path(p).is_dir())
    return [
        Checkpoint(
            name_or_path=str(Path(p).resolve()),
            revision="main",
            step=step_of(p),
            tokens_trained=tokens_trained(p, step_of(p), tokens_per_step),
        )
        for p in paths
    ]


def list_hub(repo_id: str, tokens_per_step: int | None) -> list[Checkpoint]:
    """Branches named like checkpoint-500 (open-r1 pushes each checkpoint to one)."""
    from huggingface_hub import HfApi

    try:
        refs = HfApi().list_repo_refs(repo_id)
    except Exception as err:  # offline, missing or gated repository
        raise EvallaunchError(
            f"model.checkpoints={HUB_PREFIX}{repo_id}: cannot list its branches "
            f"({type(err).__name__}: {err})"
        ) from None
    return [
        Checkpoint(
            name_or_path=repo_id,
            revision=ref.name,
            step=step_of(ref.name),
            tokens_trained=tokens_trained("", step_of(ref.name), tokens_per_step),
        )
        for ref in refs.branches
        if step_of(ref.name) is not None
    ]


def select(checkpoints: list[Checkpoint], selector: str) -> list[Checkpoint]:
    """Apply a selector (all, latest, every:K, last:N, steps:100,200) to step-sorted ones."""
    ordered = sorted(checkpoints, key=lambda c: (c.step is None, c.step or 0, c.name_or_path))
    kind, _, arg = selector.partition(":")
    try:
        if kind == "all" and not arg:
            return ordered
        if kind == "latest" and not arg:
            return ordered[-1:]
        if kind == "last":
            return ordered[-int(arg) :] if int(arg) > 0 else []
        if kind == "every":
            every = int(arg)
            return [c for c in ordered if c.step is not None and c.step % every == 0]
        if kind == "steps":
            wanted = {int(s) for s in arg.split(",") if s}
            return [c for c in ordered if c.step in wanted]
    except ValueError:
        pass
    raise EvallaunchError(
        f"model.checkpoint_select={selector!r}; valid choices: {', '.join(SELECTORS)}"
    )


def resolve(spec: str, selector: str, tokens_per_step: int | None) -> list[Checkpoint]:
    """The selected checkpoints of `model.checkpoints` (a glob, or hf://org/name)."""
    if spec.startswith(HUB_PREFIX):
        found = list_hub(spec[len(HUB_PREFIX) :], tokens_per_step)
    else:
        found = list_local(spec, tokens_per_step)
    chosen = select(found, selector)
    if not chosen:
        raise EvallaunchError(
            f"model.checkpoints={spec} with model.checkpoint_select={selector} matches no "
            f"checkpoint ({len(found)} found before selection)",
            hint="a glob like /runs/my-run/checkpoint-* or hf://org/name (checkpoint-N branches)",
        )
    return chosen


def write_manifest(path: Path, model: str, checkpoints: list[Checkpoint]) -> None:
    """The resolved checkpoint list of a sweep, as JSON (one entry per checkpoint)."""
    from evallaunch.runtime.files import write_json

    write_json(path, {"model": model, "checkpoints": [c.to_dict() for c in checkpoints]})
