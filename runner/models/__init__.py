"""Models: cards (one YAML per model) and their weights (local folders, GGUF conversion, fingerprints)."""
