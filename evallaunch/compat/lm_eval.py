"""lm-eval 0.4: its OpenAI-compatible clients and its in-process vLLM model, with every
repeat of a prompt seeded on its own."""

from __future__ import annotations

import collections
import json
from typing import Any

from evallaunch.compat import check_version


def server_client_class(chat: bool, headers: dict[str, str], seed: int) -> type:
    """lm-eval's client of OpenAI-compatible servers (`local-chat-completions` if `chat`,
    else `local-completions`) that sends `headers` with every request, seeds the k-th
    repeat of a prompt with seed + k (lm-eval sends one seed with every request, so the n
    samples of a problem would all be the same) and leaves out an empty stop list
    (`transformers serve` fails on `"stop": []`).

    Relies on lm-eval building every request's JSON body in the private
    `_create_payload(messages, *, generate, gen_kwargs, seed, eos)` (the seed as a keyword)
    and its HTTP headers from the `header` property."""
    check_version("lm-eval")
    from lm_eval.models.openai_completions import LocalChatCompletion, LocalCompletionsAPI

    base: type = LocalChatCompletion if chat else LocalCompletionsAPI

    class ServerLM(base):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._repeats: collections.Counter[str] = collections.Counter()

        @property
        def header(self) -> dict[str, str]:
            return {**super().header, **headers}

        def _create_payload(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
            key = json.dumps(messages, sort_keys=True, default=str)
            kwargs["seed"] = int(kwargs.get("seed", seed)) + self._repeats[key]
            self._repeats[key] += 1
            payload = super()._create_payload(messages, *args, **kwargs)
            if not payload.get("stop"):
                payload.pop("stop", None)
            return payload

    return ServerLM


def vllm_with_seeded_repeats_class() -> type:
    """lm-eval's in-process vLLM model (`vllm`) whose k-th repeat of a prompt is seeded
    `unit_seed + k` (set `unit_seed` per unit): lm-eval sends every repeat with the same
    generation settings, so without a seed the samples are not reproducible, and with one
    they are identical.

    Relies on `generate_until(requests)` reading each request's `(context, gen_kwargs)`
    from `Instance.arguments` (rewritten here with a `seed`), and on `VLLM.modify_gen_kwargs`
    passing gen_kwargs it does not know (`seed`) on to vLLM's `SamplingParams`."""
    check_version("lm-eval")
    from lm_eval.models.vllm_causallms import VLLM

    class SeededVLLM(VLLM):
        unit_seed = 0

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            repeats: collections.Counter[str] = collections.Counter()
            for instance in requests:
                context, gen_kwargs = instance.args
                key = json.dumps(context, sort_keys=True, default=str)
                seed = self.unit_seed + repeats[key]
                repeats[key] += 1
                instance.arguments = (context, {**gen_kwargs, "seed": seed})
            return list(super().generate_until(requests, disable_tqdm=disable_tqdm))

    return SeededVLLM
