"""Data-parallel generation: the missing requests are dealt round-robin over N engine processes (one
per GPU, CUDA_VISIBLE_DEVICES set by the parent), all writing to the one SQLite cache; the parent then
builds the run folder from the cache as usual, and the manifest records each worker's share.

    python -m runner.pipeline.workers SPEC.json WORKER     (started by `medrun eval --data-parallel N`)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from runner.completions.cache import Cache
from runner.completions.generate import generate_missing
from runner.engines.base import Request
from runner.errors import MedrunError
from runner.pipeline.config import EvalConfig
from runner.pipeline.prepare import prepare


def deal(keys: list[str], workers: int) -> list[list[str]]:
    """Round-robin shares in plan order: every key once, shares differ by at most one."""
    return [keys[i::workers] for i in range(workers)]


def run_shards(config: EvalConfig, missing: list[Request], cache_path: Path, workers: int, quiet: bool) -> list[dict]:
    """Start one worker per share, show progress from the cache, fail clearly if a worker fails.
    Returns per worker: requests assigned, completions it generated, tokens."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    stem = cache_path.parent / f"medrun-dp-{os.getpid()}"
    keys = [r.key for r in missing]
    shares = deal(keys, workers)
    spec = stem.with_suffix(".json")
    spec.write_text(json.dumps({"config": config.as_json(), "shares": shares}))
    gpus = _gpu_count()
    procs = []
    for worker in range(workers):
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(worker % gpus)
        log = open(f"{stem}-{worker}.log", "w")
        procs.append((subprocess.Popen([sys.executable, "-m", "runner.pipeline.workers", str(spec), str(worker)],
                                       env=env, stdout=log, stderr=subprocess.STDOUT), log))
    cache = Cache(cache_path)
    with Progress(TextColumn(f"generating on {workers} workers"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), disable=quiet, console=Console(stderr=True)) as bar:
        task = bar.add_task("dp", total=len(keys))
        while any(p.poll() is None for p, _ in procs):
            bar.update(task, completed=len(cache.get_many(keys)))
            time.sleep(1)
        bar.update(task, completed=len(cache.get_many(keys)))
    cache.close()
    spec.unlink(missing_ok=True)
    results = []
    for worker, (p, log) in enumerate(procs):
        log.close()
        if p.returncode != 0:
            tail = Path(log.name).read_text()[-1500:]
            raise MedrunError(f"data-parallel worker {worker} of {workers} failed (exit {p.returncode}); what it had "
                              f"finished is in the cache, rerun to resume. Its log, {log.name}, ends:\n{tail}")
        done = Path(f"{stem}-{worker}.done.json")
        results.append({"worker": worker, "assigned": len(shares[worker]), **json.loads(done.read_text())})
        done.unlink()
        Path(log.name).unlink(missing_ok=True)
    return results


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main(argv: list[str]) -> int:
    spec_path, worker = Path(argv[0]), int(argv[1])
    spec = json.loads(spec_path.read_text())
    prep = prepare(EvalConfig.from_json(spec["config"]))
    share = set(spec["shares"][worker])
    cache = Cache(prep.config.cache_path())
    mine = {p.request.key: p.request for p in prep.plan() if p.request.key in share}
    todo = [r for k, r in mine.items() if k not in cache.get_many(mine)]
    tokens = generate_missing(prep.engine, cache, prep.weights.fingerprint, todo, quiet=True)
    cache.close()
    done = spec_path.with_name(f"{spec_path.stem}-{worker}.done.json")
    done.write_text(json.dumps({"generated": len(todo), "tokens": tokens}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
