"""One evaluation job: its checks, units and the sample ledger, grading, results.json (one
writer, `results`; one reader, `record`); a harness task run as a job (`harness_task`);
`evallaunch score` on saved completions (`rescore`, the harnesses' code tasks in
`code_rescore`)."""
