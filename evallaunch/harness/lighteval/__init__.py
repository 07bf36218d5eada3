"""lighteval's side of harness tasks: its task index and task configs (`tasks`), a job's
task run by its pipeline (`evaluation`) and its results and details read into evallaunch's
schema (`results`)."""
