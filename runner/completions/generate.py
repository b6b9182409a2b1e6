"""Generation of what the cache lacks, each completion committed as it arrives, with a progress bar."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from runner.completions.cache import Cache
from runner.engines.base import Engine, Request


def generate_missing(engine: Engine, cache: Cache, fingerprint: str, requests: list[Request], quiet: bool,
                     label: str = "generating") -> int:
    """Generate `requests` (all handed to the engine at once), committing each completion to the cache
    as it arrives. Returns the number of tokens generated."""
    tokens = 0
    identity = engine.identity()
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[tps]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), disable=quiet, transient=False,
                  console=Console(stderr=True)) as bar:
        task = bar.add_task("generate", total=len(requests), tps="")
        start = time.perf_counter()
        for completion in engine.generate(requests):
            cache.put_many(fingerprint, identity, [completion])
            tokens += completion.completion_tokens
            rate = tokens / max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=1, tps=f"{rate:.1f} tok/s")
    return tokens
