"""A lighteval model that samples from the job's OpenAI-compatible servers over HTTP.

lighteval 0.13's own client for such endpoints, `LiteLLMClient`, needs litellm, whose
releases pin huggingface_hub < 2 and openai < 3 (this environment has 2.x and 3.x); this
is the same idea on aiohttp. Prompts are built by lighteval's `PromptManager`: with the chat
template on, the messages are sent to `/v1/chat/completions` and the server applies the
model's template; otherwise the plain prompt goes to `/v1/completions`. Each of a problem's
n samples is its own request, seeded `seed + i` (servers such as `transformers serve`
ignore the `n` field, and one seed for all n would repeat one sample).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from lighteval.models.abstract_model import LightevalModel, ModelConfig
from lighteval.models.model_output import ModelResponse
from lighteval.tasks.prompt_manager import PromptManager
from lighteval.tasks.requests import Doc, SamplingMethod
from lighteval.utils.cache_management import SampleCache, cached

from evallaunch.backends.base import UNIT_HEADER
from evallaunch.errors import EvallaunchError

log = logging.getLogger(__name__)


class ServerModelConfig(ModelConfig):
    """What identifies the model's samples (lighteval hashes this for its sample cache).

    `model_name` names the cache folder (a relative name); `served_model` is the `model`
    field of the requests (the path the server was started with). The servers' URL is not
    part of it: it changes from run to run.
    """

    served_model: str
    chat_template: bool = True
    max_model_length: int | None = None


class ServerModel(LightevalModel):
    """Generation through `base_url` (".../v1"); no log-likelihoods."""

    def __init__(
        self,
        config: ServerModelConfig,
        base_url: str,
        tokenizer: Any,
        concurrent_requests: int = 32,
        request_timeout_s: float | None = None,
        unit: str = "",
    ) -> None:
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.concurrent_requests = concurrent_requests
        self.request_timeout_s = request_timeout_s
        self.unit = unit
        self._tokenizer = tokenizer
        self.prompt_manager = PromptManager(
            use_chat_template=config.chat_template,
            tokenizer=tokenizer,
            system_prompt=config.system_prompt,
        )
        self._cache = SampleCache(config)
        # (query, sample index) -> (finish_reason, completion tokens) of this run's answers.
        self.usage: dict[tuple[str, int], tuple[str, int | None]] = {}

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def add_special_tokens(self) -> bool:
        return False

    @property
    def max_length(self) -> int:
        return int(self.config.max_model_length or self._tokenizer.model_max_length)

    @cached(SamplingMethod.GENERATIVE)
    def greedy_until(self, docs: list[Doc]) -> list[ModelResponse]:
        """Sample `doc.num_samples` completions of each doc, `concurrent_requests` at a time."""
        jobs = [
            (position, index, self._payload(doc, index))
            for position, doc in enumerate(docs)
            for index in range(max(1, doc.num_samples))
        ]
        answers = asyncio.run(self._post_all([payload for _, _, payload in jobs]))
        texts: list[list[str]] = [[] for _ in docs]
        for (position, index, _), (text, finish, tokens) in zip(jobs, answers, strict=True):
            texts[position].append(text)
            self.usage[(docs[position].query, index)] = (finish, tokens)
        return [
            ModelResponse(input=self._prompt(doc), text=text)
            for doc, text in zip(docs, texts, strict=True)
        ]

    def _prompt(self, doc: Doc) -> Any:
        if self.config.chat_template:
            return self.prompt_manager.prepare_prompt_api(doc)
        return self.prompt_manager.prepare_prompt(doc)

    def _payload(self, doc: Doc, index: int) -> dict[str, Any]:
        params = self.config.generation_parameters
        payload: dict[str, Any] = {
            "model": self.config.served_model,
            "max_tokens": doc.generation_size or params.max_new_tokens,
            "temperature": params.temperature,
        }
        key = "messages" if self.config.chat_template else "prompt"
        payload[key] = self._prompt(doc)
        if params.top_p is not None:
            payload["top_p"] = params.top_p
        if params.seed is not None:
            payload["seed"] = params.seed + index
        if doc.stop_sequences:  # an empty list is an error for some servers
            payload["stop"] = list(doc.stop_sequences)
        return payload

    async def _post_all(self, payloads: list[dict[str, Any]]) -> list[tuple[str, str, int | None]]:
        route = "/chat/completions" if self.config.chat_template else "/completions"
        limit = asyncio.Semaphore(max(1, self.concurrent_requests))
        timeout = aiohttp.ClientTimeout(total=self.request_timeout_s)
        headers = {UNIT_HEADER: self.unit}
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:

            async def post(payload: dict[str, Any]) -> tuple[str, str, int | None]:
                async with limit, session.post(self.base_url + route, json=payload) as answer:
                    if answer.status != 200:
                        detail = (await answer.text())[:500]
                        raise EvallaunchError(
                            f"inference request failed ({answer.status}): {detail}",
                            hint="see the server logs in the job's backend/servers/ folder",
                        )
                    return _parse(await answer.json())

            return list(await asyncio.gather(*(post(p) for p in payloads)))

    def loglikelihood(self, docs: list[Doc]) -> list[ModelResponse]:
        raise NotImplementedError("log-likelihoods are not available through the servers")

    def loglikelihood_rolling(self, docs: list[Doc]) -> list[ModelResponse]:
        raise NotImplementedError("log-likelihoods are not available through the servers")


def _parse(body: dict[str, Any]) -> tuple[str, str, int | None]:
    """(text, finish_reason, completion tokens) of a one-choice OpenAI answer."""
    try:
        choice = body["choices"][0]
        message = choice.get("message")
        text = message.get("content") if message is not None else choice.get("text")
    except (KeyError, IndexError, TypeError, AttributeError) as err:
        raise EvallaunchError(
            f"unexpected answer from the inference server: {body!r:.300}"
        ) from err
    tokens = (body.get("usage") or {}).get("completion_tokens")
    return text or "", str(choice.get("finish_reason") or "stop"), tokens
