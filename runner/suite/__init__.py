"""The scenario suite: schema, loading, robustness perturbations and the suite's self-check."""
