"""Harness tasks: any lm-eval or lighteval task or group by name (`benchmark=harness
benchmark.task=...`), run by the harness itself on the job's model, reading only the local
data mirror.

Shared by both harnesses: `task_index` (a harness's tasks by name), `job_harness` (which
harness a job's backend runs, and its index), `dataset_mirror` (the tasks' datasets in the
mirror), `generation` (the job's generation settings in each harness's words), `code_tasks`
(the tasks that run the model's programs: consent and sandbox), `results` (a harness's run
and graded samples in evallaunch's schema). Each harness's own: `lmeval/` and `lighteval/`,
each with `tasks` (its task index), `evaluation` (running a job's task) and `results`
(reading its output)."""
