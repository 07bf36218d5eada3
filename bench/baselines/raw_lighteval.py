"""Raw lighteval baseline: lighteval's own Python Pipeline on a custom task, no evallaunch code;
the raw side of baselines/overhead.py's comparison with `evallaunch.evaluate backend=lighteval`.

lighteval's CLI (and its `Registry`) imports every built-in task module, and some of them
download files at import time, which fails offline. So this script uses the Pipeline API
with `custom_tasks_directory` (bench/baselines/raw_lighteval_tasks.py) and restricts the
registry to that custom-task module, the smallest change that makes lighteval run offline.

    python bench/baselines/raw_lighteval.py --model DIR --out DIR --tokens 32 --cache DIR
(the task reads its data directory and prompt template from RAW_MATH500_* variables)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

TASKS_FILE = Path(__file__).with_name("raw_lighteval_tasks.py")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, help="Hugging Face checkpoint directory")
    p.add_argument("--out", required=True, help="lighteval output directory")
    p.add_argument("--cache", required=True, help="lighteval sample-cache directory")
    p.add_argument("--tokens", type=int, help="max new tokens (default: RAW_MATH500_TOKENS)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--max-length", type=int, default=8192)
    args = p.parse_args()
    if args.tokens is not None:
        os.environ["RAW_MATH500_TOKENS"] = str(args.tokens)  # read by the task module

    import transformers
    from lighteval.logging.evaluation_tracker import EvaluationTracker
    from lighteval.models.model_input import GenerationParameters
    from lighteval.models.transformers.transformers_model import TransformersModelConfig
    from lighteval.pipeline import ParallelismManager, Pipeline, PipelineParameters
    from lighteval.tasks.registry import Registry

    def custom_tasks_only(custom_tasks=None, load_multilingual=False):  # noqa: ARG001
        return Registry._extract_configs(Registry.create_custom_tasks_module(custom_tasks))

    Registry.load_all_task_configs = staticmethod(custom_tasks_only)  # type: ignore[method-assign]

    transformers.set_seed(args.seed)
    model_config = TransformersModelConfig(
        model_name=args.model,
        revision="main",
        dtype="float32",
        device="cpu",
        batch_size=1,
        max_length=args.max_length,
        override_chat_template=True,
        cache_dir=args.cache,
        # The generation length is the task's generation_size (RAW_MATH500_TOKENS): with
        # max_new_tokens set here, lighteval 0.13 would also cut the prompt to that many
        # tokens.
        generation_parameters=GenerationParameters(temperature=0.0, top_p=1.0, seed=args.seed),
    )
    pipeline = Pipeline(
        tasks="raw_math500|0",
        pipeline_parameters=PipelineParameters(
            launcher_type=ParallelismManager.NONE,
            custom_tasks_directory=str(TASKS_FILE),
            remove_reasoning_tags=False,
        ),
        evaluation_tracker=EvaluationTracker(output_dir=args.out, save_details=True),
        model_config=model_config,
    )
    pipeline.evaluate()
    pipeline.save_and_push_results()
    pipeline.show_results()


if __name__ == "__main__":
    main()
