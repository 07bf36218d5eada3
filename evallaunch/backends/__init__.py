"""The evaluation backends (lighteval, lm-eval) behind one small interface (`base.Backend`),
selected by `backend._target_`; their heavy imports happen when a job runs."""
