"""What the resource planner needs to know about a model, read without loading any weights.

The parameter count comes from the first source that works: (1) safetensors metadata, i.e.
``model.safetensors.index.json`` (``metadata.total_parameters``, or ``metadata.total_size`` /
bytes per parameter of the config's dtype), else the headers of local ``*.safetensors`` files
(8-byte little-endian length + JSON; element counts summed); (2) the architecture in
``config.json`` (Llama/Qwen-style gated MLP, untied embeddings unless the config ties them;
MoE experts and router); config.json comes from the directory or the Hub (its cache, offline),
else, for the models in known_architectures.yaml, from the fields carried there (with their
source); (3) a size in the name ("-1.5B", "70b", "135M", "30B-A3B" = 30e9 total, 3e9
active), only when no config.json can be had; the architecture fields are then None.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.planning.checkpoint_counts import INDEX_FILE, index_count, local_exact_count

KNOWN_ARCHITECTURES = Path(__file__).with_name("known_architectures.yaml")

# KV-cache guess when the architecture is unknown: K+V elements per token per parameter.
# GQA models of 1.5B-70B need 2e-6..8e-6, MHA models ~4e-5; 1e-5 errs on the large side.
KV_ELEMENTS_PER_PARAM = 1e-5
_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)(?:x(\d+(?:\.\d+)?))?([mb])(?![a-z0-9])")
_ACTIVE = re.compile(r"-a(\d+(?:\.\d+)?)([mb])(?![a-z0-9])")
_UNIT = {"m": 1e6, "b": 1e9}
_MISSING = object()


@dataclass(frozen=True)
class ModelFacts:
    """Size and shape of a model, as far as they are known.

    Attributes:
        num_params: Total parameters (every expert of a MoE model).
        num_active_params: Parameters used per token (num_params for dense models).
        num_layers: Like the other architecture fields (config.json names), None when only
            the model's name gave its size.
        param_source: "safetensors-index", "architecture" or "name".
        notes: Caveats about how the facts were obtained.
    """

    name: str
    num_params: int
    num_active_params: int
    num_layers: int | None = None
    hidden_size: int | None = None
    num_attention_heads: int | None = None
    num_kv_heads: int | None = None
    head_dim: int | None = None
    vocab_size: int | None = None
    max_position_embeddings: int | None = None
    is_moe: bool = False
    param_source: str = "architecture"
    notes: tuple[str, ...] = ()


def kv_cache_bytes_per_token(facts: ModelFacts, dtype_bytes: int) -> int:
    """KV-cache bytes of one token in the whole model: 2 x layers x kv_heads x head_dim x bytes.

    Name-only facts get the estimate ``num_params x KV_ELEMENTS_PER_PARAM x dtype_bytes``.
    """
    if facts.num_layers and facts.num_kv_heads and facts.head_dim:
        return 2 * facts.num_layers * facts.num_kv_heads * facts.head_dim * dtype_bytes
    return math.ceil(facts.num_params * KV_ELEMENTS_PER_PARAM) * dtype_bytes


def parse_size_from_name(name: str) -> tuple[int, int] | None:
    """(total, active) parameters from a size in a model name, or None when there is none.

    The largest size wins ("Qwen2.5-Math-1.5B" -> 1.5e9, "8x7B" -> 56e9); "-A3B" after a MoE
    total is the active count.
    """
    text = name.lower()
    sizes = [
        float(num) * (float(mult) if mult else 1.0) * _UNIT[unit]
        for num, mult, unit in _SIZE.findall(text)
    ]
    if not sizes:
        return None
    total = int(max(sizes))
    active = _ACTIVE.search(text)
    return total, int(float(active.group(1)) * _UNIT[active.group(2)]) if active else total


def load_model_facts(
    source: str | Path,
    *,
    revision: str = "main",
    name: str | None = None,
    offline: bool | None = None,
) -> ModelFacts:
    """Read a model's facts from a local checkpoint directory or a Hugging Face Hub id.

    From the Hub only config.json and model.safetensors.index.json are fetched; on failure, or
    for a local path not written yet, the next source in the module docstring's order is used.

    Args:
        source: Checkpoint directory, or a Hub id ("org/name").
        revision: Hub revision (ignored for directories).
        name: Display name; defaults to the Hub id or the directory name.
        offline: Only look in the local Hub cache. None follows HF_HUB_OFFLINE.

    Raises:
        EvallaunchError: A directory's config.json is missing or invalid or lacks a key the
            planner needs; or nothing at all tells the model's size.
    """
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        config = _read_config(config_file := path / "config.json")
        exact, note = local_exact_count(path, config)
        return _facts_from_config(config, config_file, name or path.resolve().name, exact, note)
    if text.startswith(("/", "./", "../", "~")) or text.count("/") != 1:  # not written yet?
        return _facts_from_name(text, name or path.name, "no such checkpoint directory")
    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    return _from_hub(text, revision, name or text, offline)


def _from_hub(repo_id: str, revision: str, label: str, offline: bool) -> ModelFacts:
    from huggingface_hub import hf_hub_download

    def get(filename: str) -> Path:
        return Path(hf_hub_download(repo_id, filename, revision=revision, local_files_only=offline))

    try:
        config_file = get("config.json")
    except Exception as err:  # any failure (offline, missing repo, gated...) -> carried, name
        why = f"config.json unavailable ({type(err).__name__})"
        carried = known_architecture(repo_id)
        if carried is None:
            return _facts_from_name(repo_id, label, why)
        carried_note = f"{why}: architecture from {carried['source']} (carried in evallaunch)"
        config = carried["config"]
        return _facts_from_config(config, KNOWN_ARCHITECTURES, label, None, carried_note)
    config = _read_config(config_file)
    try:
        exact, note = index_count(get(INDEX_FILE), config)
    except Exception:  # single-file checkpoints have no index: count from the architecture
        exact, note = None, None
    return _facts_from_config(config, config_file, label, exact, note)


def known_architecture(repo_id: str) -> dict[str, Any] | None:
    """The config.json fields evallaunch carries for a Hub model (``source``: where they
    were copied from; ``config``: the fields), or None for a model it carries none of."""
    import yaml

    known = yaml.safe_load(KNOWN_ARCHITECTURES.read_text())
    entry = next((v for k, v in known.items() if k.lower() == repo_id.lower()), None)
    return dict(entry) if entry else None


def _facts_from_name(repo_id: str, label: str, why: str) -> ModelFacts:
    sizes = parse_size_from_name(repo_id) or parse_size_from_name(label)
    if sizes is None:
        raise EvallaunchError(
            f"cannot tell the size of model {repo_id}: {why} and its name has no size like '7B'",
            hint="download the model (huggingface-cli download) or use a local checkpoint",
        )
    note = (
        f"{why}: size {sizes[0] / 1e9:g}B taken from the name; heads, layers and KV-cache size "
        "are unknown, so conservative defaults are used"
    )
    moe = sizes[1] != sizes[0]
    return ModelFacts(label, *sizes, is_moe=moe, param_source="name", notes=(note,))


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise EvallaunchError(f"{path} is missing: not a Hugging Face checkpoint") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EvallaunchError(f"{path} is not valid JSON ({err})") from None
    except OSError as err:
        raise EvallaunchError(f"cannot read {path} ({err})") from None
    if not isinstance(config, dict):
        raise EvallaunchError(f"{path} is not valid JSON ({type(config).__name__} at top level)")
    text = config.get("text_config")  # multimodal checkpoints keep the LLM under text_config
    if isinstance(text, dict) and "hidden_size" not in config:
        config = {**config, **text}
    return config


def _int(config: dict[str, Any], key: str, path: Path, default: Any = _MISSING) -> Any:
    value = config.get(key)
    if value is None:  # required keys must be positive, optional ones non-negative
        if default is _MISSING:
            raise EvallaunchError(
                f"{path}: key '{key}' is missing",
                hint="the resource planner needs Llama/Qwen-style config keys",
            )
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < (default is _MISSING):
        raise EvallaunchError(f"{path}: '{key}' must be a positive integer, got {value!r}")
    return value


def _facts_from_config(
    c: dict[str, Any], path: Path, label: str, exact: int | None, note: str | None
) -> ModelFacts:
    hidden = _int(c, "hidden_size", path)
    layers = _int(c, "num_hidden_layers", path)
    heads = _int(c, "num_attention_heads", path)
    kv = _int(c, "num_key_value_heads", path, None) or heads
    head_dim = _int(c, "head_dim", path, None) or hidden // heads
    vocab = _int(c, "vocab_size", path)
    total, active, is_moe = _count_params(c, path, (hidden, layers, heads, kv, head_dim, vocab))
    notes = [note] if note else []
    if exact is not None:  # exact total; the inactive-expert share still comes from the config
        total, active = exact, max(exact - (total - active), 0)
    return ModelFacts(
        name=label,
        num_params=total,
        num_active_params=active,
        num_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=kv,
        head_dim=head_dim,
        vocab_size=vocab,
        max_position_embeddings=_int(c, "max_position_embeddings", path, None),
        is_moe=is_moe,
        param_source="safetensors-index" if exact is not None else "architecture",
        notes=tuple(notes),
    )


def _count_params(c: dict[str, Any], path: Path, dims: tuple[int, ...]) -> tuple[int, int, bool]:
    """(total, active, is_moe) for a Llama/Qwen-style decoder (gated MLP, RMSNorm)."""
    hidden, layers, heads, kv, hd, vocab = dims
    model_type = str(c.get("model_type", ""))
    q, k = heads * hd, kv * hd
    attn = 2 * hidden * q + 2 * hidden * k  # q, o and k, v projections
    bias = c.get("attention_bias")
    if bias if bias is not None else model_type in ("qwen2", "qwen2_moe"):
        attn += q + 2 * k
    if model_type.startswith("qwen3"):
        attn += 2 * hd  # q_norm, k_norm
    keys = ("num_experts", "num_local_experts", "n_routed_experts")
    experts = max(_int(c, key, path, 0) for key in keys)
    experts = experts if experts > 1 else 0
    sparse_total = sparse_active = n_sparse = 0
    if experts:
        inter = _int(c, "moe_intermediate_size", path, None) or _int(c, "intermediate_size", path)
        top_k = _int(c, "num_experts_per_tok", path)
        shared = 3 * hidden * _int(c, "shared_expert_intermediate_size", path, 0)
        shared += 3 * hidden * inter * _int(c, "n_shared_experts", path, 0)
        fixed = hidden * experts + shared  # router + shared experts
        sparse_total = experts * 3 * hidden * inter + fixed
        sparse_active = top_k * 3 * hidden * inter + fixed
        dense_only = set(c.get("mlp_only_layers") or [])
        step = _int(c, "decoder_sparse_step", path, 1) or 1
        first = _int(c, "first_k_dense_replace", path, 0)
        n_sparse = sum(
            1 for i in range(layers) if i not in dense_only and (i + 1) % step == 0 and i >= first
        )
    dense_mlp = 3 * hidden * _int(c, "intermediate_size", path) if n_sparse < layers else 0
    base = layers * (attn + 2 * hidden) + (layers - n_sparse) * dense_mlp + hidden
    embeddings = vocab * hidden * (1 if c.get("tie_word_embeddings", False) else 2)
    common = base + embeddings
    return common + n_sparse * sparse_total, common + n_sparse * sparse_active, bool(experts)
