"""The evaluation backends (lighteval, lm-eval) behind one small interface (`base.Backend`),
selected by `backend._target_`; their heavy imports happen when a job runs. Also the
details rows every path writes (`details`) and the harness model arguments a backend takes,
checked before a job runs (`model_args`)."""
