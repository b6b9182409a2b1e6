"""Graders the task kinds share: negation-aware phrase matching, the drug vocabulary, calculators."""
