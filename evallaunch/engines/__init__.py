"""vLLM engines: the settings a job gives its engines, vLLM's own engine arguments and
variables (checked against the installed vLLM), and where vLLM's interpreter is."""
