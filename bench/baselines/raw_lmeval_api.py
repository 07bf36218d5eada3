"""Raw lm-eval baseline through its Python API, no evallaunch code: `simple_evaluate` on the
task directory written by bench/baselines/overhead.py, indexing only that directory: the
"lm-eval api" side of overhead.py's comparison with `evallaunch.evaluate backend=lmeval`.

The `lm_eval` CLI always indexes lm-eval's ~15k built-in task configs as well (tens of
seconds on a small CPU); this script shows lm-eval's cost without that step, which is what
evallaunch's backend does (`TaskManager(include_defaults=False)`).

    python bench/baselines/raw_lmeval_api.py --model DIR --tasks-dir DIR --out DIR
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, help="Hugging Face checkpoint directory")
    p.add_argument("--tasks-dir", required=True, help="directory with the task YAML")
    p.add_argument("--task", default="raw_math500")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--max-length", type=int, default=8192)
    args = p.parse_args()

    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    tracker = EvaluationTracker(output_path=args.out)
    results = lm_eval.simple_evaluate(
        model="hf",
        model_args={
            "pretrained": args.model,
            "dtype": "float32",
            "device": "cpu",
            "max_length": args.max_length,
        },
        tasks=[args.task],
        task_manager=TaskManager(include_path=args.tasks_dir, include_defaults=False),
        batch_size=1,
        log_samples=True,
        apply_chat_template=True,
        evaluation_tracker=tracker,
        random_seed=args.seed,
        numpy_random_seed=args.seed,
        torch_random_seed=args.seed,
        fewshot_random_seed=args.seed,
    )
    assert results is not None
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task, task_samples in samples.items():
        tracker.save_results_samples(task_name=task, samples=task_samples)
    print(json.dumps(results["results"], indent=2, default=str))


if __name__ == "__main__":
    main()
