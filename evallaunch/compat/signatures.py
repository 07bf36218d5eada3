"""The keyword arguments a harness's model takes (`backend.model_args`), read from the
harness's source without importing it: its model modules import torch and transformers
(seconds), too slow for a check before every job. lm-eval: its model classes' constructor
parameters; lighteval: its model configs' pydantic fields (`extra="forbid"`).

Where the classes sit was read for the pinned versions (`evallaunch.compat.PINNED`).
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from evallaunch.compat import check_version

DISTRIBUTION = {"lm_eval": "lm-eval", "lighteval": "lighteval"}
# (package, backend.model_type) -> the classes whose parameters or fields model_args may set:
# (file in the package, class name), the class built first.
MODEL_CLASSES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("lm_eval", "transformers"): [("models/huggingface.py", "HFLM")],
    ("lm_eval", "vllm"): [("models/vllm_causallms.py", "VLLM")],
    ("lm_eval", "server"): [
        ("models/openai_completions.py", "LocalChatCompletion"),
        ("models/openai_completions.py", "LocalCompletionsAPI"),
        ("models/api_models.py", "TemplateAPI"),
    ],
    ("lighteval", "transformers"): [
        ("models/transformers/transformers_model.py", "TransformersModelConfig"),
        ("models/abstract_model.py", "ModelConfig"),
    ],
    ("lighteval", "vllm"): [
        ("models/vllm/vllm_model.py", "VLLMModelConfig"),
        ("models/abstract_model.py", "ModelConfig"),
    ],
    # evallaunch's own client config (backends/lighteval_server_model.py) adds its fields.
    ("lighteval", "server"): [("models/abstract_model.py", "ModelConfig")],
}


@dataclass(frozen=True)
class ModelKeywords:
    """The names a model takes, and whether it takes any other (a `**kwargs` it hands on,
    e.g. lm-eval's `hf` to `from_pretrained`)."""

    names: frozenset[str]
    takes_any: bool


def model_keywords(package: str, model_type: str) -> ModelKeywords | None:
    """What `package`'s model for `model_type` takes; None where a class is not found where
    it was read.

    Raises:
        EvallaunchError: `package` is not the pinned version.
    """
    check_version(DISTRIBUTION[package])
    return _read(package, model_type)


@cache
def _read(package: str, model_type: str) -> ModelKeywords | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        return None
    root = Path(spec.origin).parent
    names: set[str] = set()
    takes_any = False
    for file, name in MODEL_CLASSES[(package, model_type)]:
        found = _class_keywords(root / file, name)
        if found is None:
            return None
        names |= found[0]
        takes_any |= found[1]
    return ModelKeywords(frozenset(names), takes_any)


def _class_keywords(path: Path, name: str) -> tuple[set[str], bool] | None:
    """The parameters of class `name`'s __init__ and its annotated fields in `path`, and
    whether its __init__ takes **kwargs."""
    if not path.is_file():
        return None
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            names, takes_any = set(), False
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
                elif isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = [*item.args.posonlyargs, *item.args.args, *item.args.kwonlyargs]
                    names |= {arg.arg for arg in args[1:]} if args else set()
                    takes_any = item.args.kwarg is not None
            return names, takes_any
    return None
