"""The job's spec: the composed config, resolved once at the entry into the schema's
dataclasses (`EvaluateConfig`) and frozen. Everything below the entry reads the spec, never
the DictConfig Hydra composed.

    spec = job_spec(cfg)           # at the entry: evaluate.main, the launchers, the API
    spec.backend.model_type        # attributes, not cfg.backend.get("model_type")
    dataclasses.replace(spec.generation, seed=7)   # a modified copy; the spec stays
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

from omegaconf import DictConfig, OmegaConf

from evallaunch.config.frozen import freeze, is_frozen
from evallaunch.config.schema import EvaluateConfig, missing_keys, unknown_keys
from evallaunch.errors import EvallaunchError

__all__ = ["EvaluateConfig", "job_spec", "spec_from_dict"]


def job_spec(cfg: DictConfig | EvaluateConfig) -> EvaluateConfig:
    """The frozen spec of a composed config: keys no schema section has and required values
    still unset fail here; interpolations and resolvers are evaluated once. Hydra's own
    `hydra` node (in a sweep's job configs) is not part of it. A spec is returned as is."""
    if isinstance(cfg, EvaluateConfig):
        return cfg if is_frozen(cfg) else freeze(cfg)
    refuse_unknown_keys(unknown_keys(cfg))
    if missing := missing_keys(cfg):
        raise EvallaunchError(
            f"missing required value(s): {', '.join(missing)}",
            hint=f"set them on the command line, e.g. {missing[0]}=...",
        )
    resolved = {}
    for name in map(str, cfg):
        if name != "hydra":
            node = cfg[name]
            resolved[name] = (
                OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
            )
    return spec_from_dict(resolved)


def spec_from_dict(data: dict[str, Any]) -> EvaluateConfig:
    """The frozen spec of a plain, resolved config (e.g. `evallaunch plan`'s, which applies
    a sweep's value overrides to one composition); its keys are the schema's."""
    spec = _build(EvaluateConfig, data, "")
    assert isinstance(spec, EvaluateConfig)
    return freeze(spec)


def _build(kind: Any, value: Any, key: str) -> Any:
    """`value` (plain containers) as an instance of the annotated type `kind`."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in get_args(kind) if arg is not type(None)]
        classes = [arg for arg in options if dataclasses.is_dataclass(arg)]
        return _build(classes[0], value, key) if classes else value
    if origin is list and isinstance(value, list):
        (item,) = get_args(kind) or (Any,)
        return [_build(item, v, f"{key}{i}.") for i, v in enumerate(value)]
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)) or not isinstance(
        value, dict
    ):
        return value
    hints, names = _fields_of(kind)
    refuse_unknown_keys(
        [(f"{key}{k}", [f"{key}{n}" for n in names]) for k in value if k not in names]
    )
    return kind(**{k: _build(hints[k], v, f"{key}{k}.") for k, v in value.items()})


@functools.cache
def _fields_of(kind: type) -> tuple[dict[str, Any], list[str]]:
    """A schema class's resolved field types and field names (read once per class)."""
    return get_type_hints(kind), [f.name for f in dataclasses.fields(kind)]


def refuse_unknown_keys(unknown: list[tuple[str, list[str]]]) -> None:
    """Keys added with `+` that no schema section has, each with its closest known key."""
    if not unknown:
        return
    problems, hints = [], []
    for key, known in unknown:
        section, name = key.rsplit(".", 1) if "." in key else ("", key)
        names = [known_key.rsplit(".", 1)[-1] for known_key in known]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        problems.append((key, f"{key[: -len(name)]}{close[0]}" if close else None))
        hints.append(f"the settings of {section or 'the config'}: {', '.join(names)}")
    if len(problems) == 1:
        key, suggestion = problems[0]
        message = f"{key} is not a setting evallaunch knows"
        message += f": did you mean {suggestion}?" if suggestion else ""
    else:
        message = f"{len(problems)} settings evallaunch does not know: " + "; ".join(
            key + (f" (did you mean {closest}?)" if closest else "") for key, closest in problems
        )
    raise EvallaunchError(message, hint="; ".join(dict.fromkeys(hints)))
