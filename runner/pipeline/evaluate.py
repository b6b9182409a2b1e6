"""`medrun eval`, top to bottom: prepare -> plan -> cache lookup -> generate what is missing (each
completion committed as it arrives) -> score -> run folder.

    card + suite -> plan (one request per instance x seed, robustness twins included)
      -> cache lookup -> engine.generate(every missing request at once)
      -> scorers + safety rules -> tables -> run folder
"""

from __future__ import annotations

import time

from runner.completions.cache import Cache
from runner.completions.generate import generate_missing
from runner.errors import MedrunError
from runner.hashing import sha256_file
from runner.pipeline.config import EvalConfig
from runner.pipeline.judging import check_judges
from runner.pipeline.prepare import prepare
from runner.pipeline.workers import run_shards
from runner.pipeline.write import RunResult, write_run
from runner.runs import files
from runner.runs.manifest import base_manifest


def evaluate(config: EvalConfig) -> RunResult:
    t0 = time.perf_counter()
    prep = prepare(config)
    config, card, suite, weights, engine = prep.config, prep.card, prep.suite, prep.weights, prep.engine
    t_prepared = time.perf_counter()

    planned = prep.plan()
    cache = Cache(config.cache_path())
    unique = {p.request.key: p.request for p in planned}
    cached = set(cache.get_many(unique))
    missing = [r for k, r in unique.items() if k not in cached]

    check_judges(config, weights.fingerprint)
    folder = files.new_run_dir(config.out, card.id, suite.id)
    manifest = base_manifest(config.as_json(), suite, planned, {
        "id": card.id, "card": card.model_dump(mode="json"), "card_file": str(card.card_path),
        "card_sha256": sha256_file(card.card_path), "fingerprint": weights.fingerprint,
        "folder": str(weights.folder), "files": weights.files,
        "source_file": str(weights.source_file) if weights.source_file else None,
        "source_sha256": weights.source_sha256})
    manifest.update({"engine": {**engine.describe(), "identity": engine.identity(), "chosen": prep.why},
                     "cache": str(cache.path),
                     "counts": {"requests": len(planned), "unique_requests": len(unique),
                                "from_cache": len(cached), "to_generate": len(missing)}})
    manifest["times"]["prepare_s"] = round(t_prepared - t0, 3)
    files.write_json(folder / "manifest.json", manifest)

    t_gen = time.perf_counter()
    if missing and config.data_parallel > 1:
        cache.close()
        shares = run_shards(config, missing, cache.path, config.data_parallel, config.quiet)
        manifest["counts"]["workers"] = shares
        cache = Cache(cache.path)
        tokens = sum(c.completion_tokens for c in cache.get_many([r.key for r in missing]).values())
    else:
        tokens = generate_missing(engine, cache, weights.fingerprint, missing, config.quiet) if missing else 0
    manifest["counts"]["generated_tokens"] = tokens
    manifest["times"]["generate_s"] = round(time.perf_counter() - t_gen, 3)
    completions = cache.get_many(unique)
    cache.close()
    prep.engine = engine = None  # type: ignore[assignment]  # the model under test leaves memory before a judge loads
    if len(completions) != len(unique):
        raise MedrunError(f"{len(unique) - len(completions)} completions are missing from the cache after "
                          "generation; rerun the same command to generate them.")
    return write_run(folder, manifest, planned, completions, cached, suite, config, t0)
