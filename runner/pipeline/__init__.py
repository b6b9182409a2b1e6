"""The evaluation pipeline: config, plan, cache, generation (one process or data-parallel workers),
scoring and writing the run folder; `medrun score` and `medrun rescore` enter it after generation."""
