"""medrun's vLLM path end to end against a bare LLM.generate call, same model, same prompts, one run.

    python scripts/bench_vllm.py [--model smollm2-135m-instruct] [--limit 8] [--gpu-memory-utilization 0.3]

Both sides share one loaded LLM and start each timed pass with an empty prefix cache.
  bare    LLM.generate(every prompt, its SamplingParams), nothing else
  medrun  plan -> VLLMEngine.generate -> each completion committed to a fresh SQLite cache ->
          scorers -> completions/scores/summary written to a run folder
Tokens/s counts generated tokens; overhead = 1 - medrun rate / bare rate (goal: under 5%).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    import runner  # noqa: F401  (offline environment first)
    from runner.completions.cache import Cache
    from runner.completions.generate import generate_missing
    from runner.engines.base import EngineOptions
    from runner.engines.vllm import VLLMEngine
    from runner.models.cards import find_card
    from runner.models.weights import resolve
    from runner.pipeline.config import EvalConfig
    from runner.pipeline.plan import Target, load_selection, plan
    from runner.pipeline.write import write_run
    from runner.runs.manifest import base_manifest

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--limit", type=int, default=8, help="instances per scenario (twins included)")
    ap.add_argument("--gpu-memory-utilization", type=float, default=None)
    ap.add_argument("--max-model-len", type=int, default=4096)
    ap.add_argument("--enforce-eager", action="store_true")
    ap.add_argument("--scenario", action="append", help="only these scenario ids (repeatable; default all)")
    ap.add_argument("--smoke", action="store_true", help="smallest size (CI): 2 instances of two short-answer "
                    "scenarios, eager, a quarter of memory, 2048-token context")
    args = ap.parse_args()
    if args.smoke:
        args.limit, args.enforce_eager, args.max_model_len = 2, True, 2048
        args.scenario = args.scenario or ["medication-safety-mc", "ed-triage-esi"]
        args.gpu_memory_utilization = args.gpu_memory_utilization or 0.25

    card = find_card(args.model)
    weights = resolve(card)
    engine = VLLMEngine(card, weights, EngineOptions(gpu_memory_utilization=args.gpu_memory_utilization,
                                                     max_model_len=args.max_model_len,
                                                     enforce_eager=args.enforce_eager))
    config, suite = load_selection(EvalConfig(subset="full", limit=args.limit, scenarios=args.scenario))
    planned = plan(config, suite.scenarios, Target(engine.render, weights.fingerprint, engine.identity(),
                                                   card.system_prompt))
    requests = list({p.request.key: p.request for p in planned}.values())
    llm = engine.llm
    token_ids = [engine.tokenizer(r.prompt, add_special_tokens=False)["input_ids"] for r in requests]
    params = [engine.sampling_params(r) for r in requests]
    llm.generate([{"prompt_token_ids": i} for i in token_ids[:4]], params[:4], use_tqdm=False)  # warm-up

    def bare() -> int:
        outs = llm.generate([{"prompt_token_ids": i} for i in token_ids], params, use_tqdm=False)
        return sum(len(o.outputs[0].token_ids) for o in outs)

    def medrun() -> int:
        with tempfile.TemporaryDirectory() as tmp:
            cache = Cache(Path(tmp) / "cache.sqlite")
            tokens = generate_missing(engine, cache, weights.fingerprint, requests, quiet=True)
            completions = cache.get_many([r.key for r in requests])
            cache.close()
            folder = Path(tmp) / "run"
            folder.mkdir()
            manifest = base_manifest(config.as_json(), suite, planned, {"id": card.id, "fingerprint": weights.fingerprint})
            write_run(folder, manifest, planned, completions, set(), suite, config, time.perf_counter())
            assert (folder / "summary.json").exists()
        return tokens

    rates = {}
    for name, fn in (("bare LLM.generate", bare), ("medrun end to end", medrun)):
        llm.reset_prefix_cache()
        start = time.perf_counter()
        tokens = fn()
        seconds = time.perf_counter() - start
        rates[name] = tokens / seconds
        print(f"{name:18s} {len(requests):4d} requests  {tokens:6d} generated tokens  {seconds:7.2f} s  "
              f"{rates[name]:8.1f} tokens/s")
    info = engine.describe()
    ratio = rates["medrun end to end"] / rates["bare LLM.generate"]
    print(f"device {info['device']}{' ' + info.get('gpu', '') if info['device'] == 'cuda' else ''}  "
          f"vllm {info['vllm']}  ratio medrun/bare {ratio:.3f}  runner overhead {1 - ratio:+.1%}")


if __name__ == "__main__":
    main()
