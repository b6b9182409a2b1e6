"""Completions: the SQLite cache every generated completion is committed to as it arrives, and the loop
that fills it from an engine. Shared by the pipeline (the model under test) and the judges."""
