"""Names derived from a config: a model's name, version, training step and tokens trained
from its path or Hub id, a harness benchmark's name from its task; and the `el.*`
resolvers that compute them while `conf/` is composed."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from omegaconf import OmegaConf


def slug(name_or_path: str) -> str:
    """Turn a Hub id, local path or embedded name into a file-system friendly model name;
    the checkpoints of one training run share the run's name."""
    from evallaunch.checkpoints.discovery import step_of

    text = str(name_or_path).rstrip("/")
    if text.startswith("embedded:"):
        return text.split(":", 1)[1]
    parts = [p for p in text.split("/") if p and p not in (".", "..")]
    if len(parts) > 1 and step_of(parts[-1]) is not None:
        parts = parts[:-1]
    return "--".join(parts[-2:]) if parts else "model"


def model_version(name_or_path: str, revision: str) -> str:
    """The output path level below the model name: a local checkpoint directory's name
    (run7/checkpoint-500 -> checkpoint-500), otherwise the revision."""
    from evallaunch.checkpoints.discovery import step_of

    last = str(name_or_path).rstrip("/").rsplit("/", 1)[-1]
    if "/" in str(name_or_path) and step_of(last) is not None:
        return last
    return str(revision)


def checkpoint_step(name_or_path: str, revision: str) -> int | None:
    """The training step named by the path (checkpoint-500) or else by the revision."""
    from evallaunch.checkpoints.discovery import step_of

    return step_of(str(name_or_path)) or step_of(str(revision))


def derive_model_keys(model: dict[str, Any], given: Collection[str] = ()) -> None:
    """Set what the resolvers of `model.name`, `version`, `step` and `tokens_trained`
    compute, in a plain (resolved) copy of a model config; the dotted keys in `given`
    (e.g. "model.name", set by the user) are left as they are."""
    from evallaunch.checkpoints.discovery import tokens_trained

    path, revision = str(model["name_or_path"]), str(model["revision"])
    if "model.name" not in given:
        model["name"] = slug(path)
    if "model.version" not in given:
        model["version"] = model_version(path, revision)
    if "model.step" not in given:
        model["step"] = checkpoint_step(path, revision)
    if "model.tokens_trained" not in given:
        model["tokens_trained"] = tokens_trained(path, model["step"], model.get("tokens_per_step"))


def _model_version(*, _parent_: Any) -> str:
    if OmegaConf.is_missing(_parent_, "name_or_path"):
        return str(_parent_.revision)
    return model_version(_parent_.name_or_path, _parent_.revision)


def _model_name(*, _parent_: Any) -> str:
    # Tolerates a missing name_or_path so that the output dir can still be computed and
    # the entrypoint can report the missing value itself.
    if OmegaConf.is_missing(_parent_, "name_or_path"):
        return "MISSING"
    return slug(_parent_.name_or_path)


def _task_name(*, _parent_: Any) -> str:
    # benchmark=harness: the benchmark is named after its task (MISSING until one is given).
    return str(_parent_.task or "MISSING")


def _checkpoint_step(*, _parent_: Any) -> int | None:
    if OmegaConf.is_missing(_parent_, "name_or_path"):
        return None
    return checkpoint_step(_parent_.name_or_path, _parent_.revision)


def _tokens_trained(*, _parent_: Any) -> int | None:
    from evallaunch.checkpoints.discovery import tokens_trained

    if OmegaConf.is_missing(_parent_, "name_or_path"):
        return None
    return tokens_trained(str(_parent_.name_or_path), _parent_.step, _parent_.tokens_per_step)


# The resolvers conf/ uses, registered by evallaunch.config.schema.register.
RESOLVERS: dict[str, Callable[..., Any]] = {
    "el.model_name": _model_name,
    "el.model_version": _model_version,
    "el.checkpoint_step": _checkpoint_step,
    "el.tokens_trained": _tokens_trained,
    "el.task_name": _task_name,
}
