"""evallaunch against the raw tools: overhead.py and harness_gsm8k.py, and the raw baselines
they run (raw_lighteval.py, raw_lighteval_tasks.py, raw_lmeval_api.py)."""
