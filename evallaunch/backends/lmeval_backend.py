"""lm-eval backend: `lm_eval.simple_evaluate` with evallaunch's own task config.

The task comes from `lmeval_tasks/generate.yaml`, filled in with the job's problems file,
the number of samples (`repeats`) and the generation settings; its `process_results` calls
evallaunch's scorer, so lm-eval's reported pass@1 follows evallaunch's rules. Only this task
is indexed (`include_defaults=False`): lm-eval's built-in MATH tasks pin an antlr4 version
that conflicts with math-verify.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import yaml

from evallaunch.backends.base import (
    UNIT_HEADER,
    Backend,
    BackendOutput,
    Completion,
    GenerationRequest,
    finish_reason_of,
)
from evallaunch.compat.lm_eval import server_client_class, vllm_with_seeded_repeats_class
from evallaunch.scoring.registry import Scorer

log = logging.getLogger(__name__)

TASK_TEMPLATE = Path(__file__).with_name("lmeval_tasks") / "generate.yaml"
METRIC = "pass@1"


def build_task_config(request: GenerationRequest, scorer: Scorer) -> dict[str, Any]:
    """lm-eval task config for the job: the YAML template filled in from `request`."""
    config = copy.deepcopy(yaml.safe_load(TASK_TEMPLATE.read_text()))
    config["task"] = f"evallaunch_{request.benchmark}"
    config["dataset_kwargs"]["data_files"]["test"] = str(request.data_file)
    config["repeats"] = request.n
    config["filter_list"][0]["filter"][0]["k"] = request.n
    config["generation_kwargs"].update(
        do_sample=request.temperature > 0,
        temperature=request.temperature,
        top_p=request.top_p,
        max_gen_toks=request.max_new_tokens,
    )

    def process_results(doc: dict[str, Any], results: list[list[str]]) -> dict[str, float]:
        samples = results[0]
        correct = [scorer(text, doc["answer"]).correct for text in samples]
        return {METRIC: sum(correct) / len(correct)}

    config["process_results"] = process_results
    return config


class LmevalBackend(Backend):
    """Runs lm-eval's `simple_evaluate` on its in-process Hugging Face model (`hf`), or, with
    model_type=server, on the job's inference servers through lm-eval's
    `local-chat-completions` model (`local-completions` without the chat template)."""

    requires = ("lm_eval", "lmeval")
    packages = ("lm_eval", "transformers", "torch")
    imports = (
        "lm_eval.evaluator",
        "lm_eval.tasks",
        "lm_eval.api.registry",
        "lm_eval.models.openai_completions",
        "transformers.models.auto.tokenization_auto",
    )

    def lm(self, request: GenerationRequest) -> Any:
        """lm-eval's model for `request`, built once per job: the client of the job's
        servers, the in-process vLLM engine (model_type=vllm) or Hugging Face model."""
        model_args: dict[str, Any] = {
            "pretrained": request.model_path,
            "dtype": request.dtype,
            "device": request.device,
            "trust_remote_code": request.trust_remote_code,
        }
        if request.revision:
            model_args["revision"] = request.revision
        if request.max_model_length:
            model_args["max_length"] = request.max_model_length
        model_args.update(self.model_args)
        if request.base_url:  # the job's servers: lm-eval's OpenAI-compatible client
            return self._server_lm(request)
        if self.model_type == "vllm":
            args = vllm_model_args(request, self.model_args)
            lm = self.reuse("vllm:" + json.dumps(args, sort_keys=True), lambda: _vllm_lm(args))
            lm.unit_seed = request.seed
            return lm
        return self.reuse(
            json.dumps(model_args, sort_keys=True), lambda: _hf_lm(model_args, self.batch_size)
        )

    def run(self, request: GenerationRequest, scorer: Scorer) -> BackendOutput:
        import lm_eval
        from lm_eval.tasks import TaskManager

        from evallaunch.compat.lm_eval import quiet_git_probe

        quiet_git_probe()
        lm = self.lm(request)
        results = lm_eval.simple_evaluate(
            model=lm,
            tasks=[build_task_config(request, scorer)],
            task_manager=TaskManager(include_defaults=False),
            batch_size=self.batch_size,
            log_samples=True,
            apply_chat_template=request.chat_template,
            system_instruction=request.system_prompt,
            random_seed=request.seed,
            numpy_random_seed=request.seed,
            torch_random_seed=request.seed,
            fewshot_random_seed=request.seed,
        )
        if results is None:  # only on non-zero ranks of a distributed run
            return BackendOutput(completions=[])
        task = f"evallaunch_{request.benchmark}"
        raw_dir = request.work_dir / "backend"
        raw_dir.mkdir(parents=True, exist_ok=True)
        samples = results.pop("samples", {}).get(task, [])
        (raw_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        with (raw_dir / "samples.jsonl").open("w") as handle:
            for sample in samples:
                handle.write(json.dumps(sample, default=str) + "\n")
        tokenizer = self.tokenizer(request)
        chat = bool(request.base_url) and request.chat_template
        completions = [c for s in samples for c in _completions(s, tokenizer, request, chat)]
        score = results["results"][task][f"{METRIC},all_samples"]
        return BackendOutput(completions=completions, metrics={METRIC: float(score)})

    def apply_batch_size(self, model: Any) -> None:
        model.batch_size_per_gpu = self.batch_size

    def _server_lm(self, request: GenerationRequest) -> Any:
        """lm-eval's client of the job's servers. The servers apply the chat template; the
        local tokenizer only gives the end-of-sequence stop string. backend.model_args
        override these arguments (e.g. num_concurrent, timeout). Each repeat of a prompt is
        seeded on its own, and requests carry the unit (evallaunch.compat.lm_eval)."""
        chat = request.chat_template
        args: dict[str, Any] = {
            "model": request.served_model or request.model_path,
            "base_url": self.require_base_url(request)
            + ("/chat/completions" if chat else "/completions"),
            "tokenizer_backend": "huggingface",
            "tokenizer": request.model_path,
            "tokenized_requests": False,
            "num_concurrent": self.server_concurrency(request),
            "seed": request.seed,
            "max_gen_toks": request.max_new_tokens,
            "timeout": 24 * 3600,  # per request; long reasoning traces take a while
            "max_retries": 1,  # the job's balancer retries, with backoff
            "trust_remote_code": request.trust_remote_code,
            "revision": request.revision or "main",
        }
        if request.max_model_length:
            args["max_length"] = request.max_model_length
        args.update(self.model_args)
        client = server_client_class(chat, {UNIT_HEADER: request.unit}, request.seed)
        return client(**args)


def _hf_lm(model_args: dict[str, Any], batch_size: int) -> Any:
    """lm-eval's in-process Hugging Face model (loaded once per job, used by every unit)."""
    from lm_eval.api.registry import get_model

    return get_model("hf").create_from_arg_obj(model_args, {"batch_size": batch_size})


def vllm_model_args(request: GenerationRequest, extra: dict[str, Any]) -> dict[str, Any]:
    """Arguments of lm-eval's in-process vLLM model (`vllm`): one replica with the job's
    engine settings (evallaunch runs more replicas as servers); backend.model_args
    override them. No seed: the engine lives for the whole job, and each unit seeds its
    own requests."""
    args: dict[str, Any] = {
        "pretrained": request.model_path,
        "revision": request.revision or "main",
        "trust_remote_code": request.trust_remote_code,
        "data_parallel_size": 1,
        "max_gen_toks": request.max_new_tokens,
        "batch_size": "auto",
        **request.engine.vllm_args(),
    }
    if request.max_model_length:
        args["max_model_len"] = request.max_model_length
    return {**args, **extra}


def _vllm_lm(args: dict[str, Any]) -> Any:
    """lm-eval's in-process vLLM model (loaded once per job) whose k-th repeat of a prompt
    is seeded `unit_seed + k` (evallaunch.compat.lm_eval)."""
    return vllm_with_seeded_repeats_class()(**args)


def _completions(
    sample: dict[str, Any], tokenizer: Any, request: GenerationRequest, chat: bool = False
) -> list[Completion]:
    prompt = sample["arguments"][0][0]
    if chat:  # lm-eval keeps the chat messages as JSON; record the prompt the server saw
        prompt = _chat_prompt(prompt, tokenizer)
    out = []
    for index, text in enumerate(sample["filtered_resps"][0]):
        # lm-eval returns text only: count its tokens to tell a cut-off completion.
        num_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        out.append(
            Completion(
                problem_id=str(sample["doc"]["id"]),
                sample_index=index,
                prompt=prompt,
                completion=text,
                finish_reason=finish_reason_of(num_tokens, request.max_new_tokens),
                num_tokens=num_tokens,
            )
        )
    return out


def _chat_prompt(prompt: Any, tokenizer: Any) -> str:
    """The chat template applied to lm-eval's JSON messages (as they are if not JSON)."""
    text = prompt[0] if isinstance(prompt, (list, tuple)) and prompt else prompt
    try:
        messages = json.loads(str(text))
        return str(
            tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )
    except (ValueError, TypeError):
        return str(text)
