"""lm-eval's side of harness tasks: its task index (`tasks`), a job's task run by
`simple_evaluate` (`evaluation`) and its results read into evallaunch's schema
(`results`)."""
