"""backend.model_args checked against the harness model they are handed to, before any
job runs: a key the model does not take fails naming the closest one it does."""

from __future__ import annotations

import difflib

from evallaunch.compat.signatures import model_keywords
from evallaunch.config.running import BackendConfig
from evallaunch.errors import EvallaunchError

# The package whose model each backend (its _target_ class) builds.
PACKAGE_OF_BACKEND = {"LmevalBackend": "lm_eval", "LightevalBackend": "lighteval"}
# lighteval on servers: evallaunch's own client (LightevalBackend._server_model) takes these.
LIGHTEVAL_SERVER_KEYS = frozenset({"served_model", "concurrent_requests", "request_timeout_s"})


def check_model_args(backend: BackendConfig) -> None:
    """Refuse a key of `backend.model_args` that the harness's model for
    `backend.model_type` does not take. Where the model hands other keywords on (lm-eval's
    `hf` to `from_pretrained`, its `vllm` to vLLM), only a near miss of a name it has is
    refused."""
    args = dict(backend.model_args)
    package = PACKAGE_OF_BACKEND.get(backend._target_.rsplit(".", 1)[-1])
    if not args or package is None:
        return
    keywords = model_keywords(package, str(backend.model_type))
    if keywords is None:  # not found where it was read: the harness checks
        return
    names = set(keywords.names)
    if (package, backend.model_type) == ("lighteval", "server"):
        names = set(LIGHTEVAL_SERVER_KEYS)
    for key, value in args.items():
        if key in names:
            continue
        close = difflib.get_close_matches(
            key, sorted(names), n=1, cutoff=0.8 if keywords.takes_any else 0.6
        )
        if keywords.takes_any and not close:
            continue
        model = f"{package.replace('_', '-')}'s {backend.model_type} model"
        raise EvallaunchError(
            f"backend.model_args.{key}={value!r} is invalid: {model} takes no {key}"
            + (f" (did you mean {close[0]}?)" if close else ""),
            hint=f"the settings it takes: {', '.join(sorted(names))}",
        )
