"""Models: what `model.name_or_path` resolves to, and the embedded model."""
