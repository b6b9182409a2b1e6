"""Data-parallel generation: the plan is sharded by request key over N engine processes (one per GPU,
CUDA_VISIBLE_DEVICES set by the parent), all writing to the one SQLite cache; the parent then builds
the run folder from the cache as usual.

    python -m runner.worker CONFIG.json SHARD N     (started by `medrun eval --data-parallel N`)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from runner import paths
from runner.cache import Cache
from runner.engines.base import EngineOptions, Request
from runner.errors import MedrunError


def shard_of(key: str, shards: int) -> int:
    """Stable shard of a request: its sha256 key read as a number, modulo the shard count."""
    return int(key[:12], 16) % shards


def config_json(config) -> str:
    data = asdict(config)
    return json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()})


def config_from_json(text: str):
    from runner.run import EvalConfig

    data = json.loads(text)
    data["engine_options"] = EngineOptions(**data["engine_options"])
    for key in ("suite", "out", "cache"):
        if data.get(key) is not None:
            data[key] = Path(data[key])
    data["harm_weights"] = tuple(data["harm_weights"])
    return EvalConfig(**data)


def run_shards(config, missing: list[Request], cache_path: Path, shards: int, quiet: bool) -> None:
    """Start one worker per shard, show progress from the cache, fail clearly if a worker fails."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    spec = cache_path.parent / f"medrun-dp-{os.getpid()}.json"
    spec.write_text(config_json(config))
    gpus = _gpu_count()
    procs = []
    for shard in range(shards):
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(shard % gpus)
        log = open(cache_path.parent / f"medrun-dp-{os.getpid()}-{shard}.log", "w")
        procs.append((subprocess.Popen([sys.executable, "-m", "runner.worker", str(spec), str(shard), str(shards)],
                                       env=env, stdout=log, stderr=subprocess.STDOUT), log))
    keys = [r.key for r in missing]
    cache = Cache(cache_path)
    with Progress(TextColumn(f"generating on {shards} workers"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), disable=quiet, console=Console(stderr=True)) as bar:
        task = bar.add_task("dp", total=len(keys))
        while any(p.poll() is None for p, _ in procs):
            bar.update(task, completed=len(cache.get_many(keys)))
            time.sleep(1)
        bar.update(task, completed=len(cache.get_many(keys)))
    cache.close()
    spec.unlink(missing_ok=True)
    for shard, (p, log) in enumerate(procs):
        log.close()
        if p.returncode != 0:
            tail = Path(log.name).read_text()[-1500:]
            raise MedrunError(f"data-parallel worker {shard} of {shards} failed (exit {p.returncode}); what it had "
                              f"finished is in the cache, rerun to resume. Its log, {log.name}, ends:\n{tail}")
        Path(log.name).unlink(missing_ok=True)


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main(argv: list[str]) -> int:
    from runner.run import generate_missing, prepare

    spec, shard, shards = Path(argv[0]), int(argv[1]), int(argv[2])
    config = config_from_json(spec.read_text())
    prep = prepare(config)
    planned = prep.plan()
    cache = Cache(config.cache or paths.home() / "cache.sqlite")
    mine = {p.request.key: p.request for p in planned if shard_of(p.request.key, shards) == shard}
    done = cache.get_many(mine)
    generate_missing(prep.engine, cache, prep.weights.fingerprint, [r for k, r in mine.items() if k not in done],
                     quiet=True)
    cache.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
