"""One evaluation job: engines, units and the sample ledger, grading, results.json."""
