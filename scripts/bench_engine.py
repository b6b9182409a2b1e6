"""The transformers engine's batching, side by side in one run over one loaded model and the same prompts:
continuous batching (a finished row's slot refilled at once), static batches (each runs to its longest
answer) and one prompt at a time.

    python scripts/bench_engine.py [--model smollm2-135m-instruct] [--prompts 48] [--max-tokens 64]
                                   [--subset quick] [--suite-one-at-a-time]

Two workloads, greedy, cache bypassed, tokens/s counting generated tokens:
  open answers   the suite's question stems asked as open questions (short prompt, longer answer):
                 decode-bound, where batching pays off most; all three modes
  suite prompts  the requests `medrun eval --subset SUBSET` makes, exactly as rendered (mixed lengths:
                 a triage level is a few tokens, a discharge summary hundreds); continuous and static,
                 one at a time too with --suite-one-at-a-time (slow)
For each pair of modes: the share of completions with identical token ids, and the generated seconds.
"""

from __future__ import annotations

import argparse
import time

import runner  # noqa: F401  (offline environment first)
from runner import paths
from runner.completions.cache import request_key
from runner.engines import Decoding, EngineOptions, Request, make_engine
from runner.models.cards import find_card
from runner.models.weights import resolve
from runner.pipeline.config import EvalConfig
from runner.pipeline.plan import Target, load_selection, plan
from runner.suite.load import load_suite


def open_answer_requests(engine, fingerprint: str, scenarios, n: int, max_tokens: int) -> list[Request]:
    stems = [i.question.strip() for s in scenarios for i in s.instances if hasattr(i, "question")]
    decoding = Decoding(max_tokens=max_tokens)
    out = []
    for k in range(n):
        prompt = engine.render([{"role": "user", "content": f"Case {k + 1}. {stems[k % len(stems)]} "
                                                            "Answer in two or three sentences."}])
        out.append(Request(request_key(fingerprint, engine.identity(), prompt, decoding), prompt, decoding))
    return out


def suite_requests(engine, fingerprint: str, subset: str) -> list[Request]:
    config, suite = load_selection(EvalConfig(subset=subset), load_suite(paths.suite_dir()))
    return [p.request for p in plan(config, suite.scenarios, Target(engine.render, fingerprint, engine.identity()))]


def run_mode(engine, reqs: list[Request], mode: str) -> tuple[dict, float]:
    """({key: completion}, seconds)."""
    engine.batching = "static" if mode == "static" else "continuous"
    start = time.perf_counter()
    groups = [[r] for r in reqs] if mode == "one-at-a-time" else [reqs]
    done = {c.key: c for g in groups for c in engine.generate(g)}
    return done, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--prompts", type=int, default=48, help="open-answer prompts")
    ap.add_argument("--max-tokens", type=int, default=64, help="answer length for open answers")
    ap.add_argument("--max-batch-size", type=int, default=64)
    ap.add_argument("--batch-tokens", type=int, default=None, help="default: the engine's (from free memory)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--subset", default="quick", help="suite prompts: the subset `medrun eval` would run")
    ap.add_argument("--suite-prompts", type=int, default=None, help="suite prompts: at most this many (default all)")
    ap.add_argument("--suite-one-at-a-time", action="store_true", help="also run the suite prompts one at a time")
    ap.add_argument("--smoke", action="store_true", help="smallest size (CI): 4 open answers of 8 tokens, "
                    "4 suite prompts")
    args = ap.parse_args()
    if args.smoke:
        args.prompts, args.max_tokens, args.suite_prompts, args.suite_one_at_a_time = 4, 8, 4, True

    card = find_card(args.model)
    weights = resolve(card)
    engine = make_engine("hf", card, weights, EngineOptions(device=args.device, max_batch_size=args.max_batch_size,
                                                            batch_tokens=args.batch_tokens))
    scenarios = load_suite(paths.suite_dir()).scenarios
    suite = suite_requests(engine, weights.fingerprint, args.subset)
    suite = suite[:: max(1, len(suite) // args.suite_prompts)][: args.suite_prompts] if args.suite_prompts else suite
    workloads = {
        "open answers": (open_answer_requests(engine, weights.fingerprint, scenarios, args.prompts, args.max_tokens),
                         ("continuous", "static", "one-at-a-time")),
        f"{args.subset} subset": (suite, ("continuous", "static") + (("one-at-a-time",) if args.suite_one_at_a_time else ())),
    }
    list(engine.generate(workloads["open answers"][0][:2]))  # warm-up: load weights, first kernels

    engine.batch_tokens  # noqa: B018  (resolved, so describe() shows it)
    info = engine.describe()
    print(f"model {card.id}  device {info['device']}  dtype {info['dtype']}  threads {info['threads']}  "
          f"batch_tokens {info['batch_tokens']}  max_batch_size {info['max_batch_size']}")
    for name, (reqs, modes) in workloads.items():
        results = {}
        for mode in modes:
            done, seconds = run_mode(engine, reqs, mode)
            gen, prompt = sum(c.completion_tokens for c in done.values()), sum(c.prompt_tokens for c in done.values())
            results[mode] = (done, seconds, gen / seconds)
            print(f"{name:14s} {mode:14s} {len(reqs):3d} prompts  {prompt:6d} prompt tok  {gen:5d} generated tok"
                  f"  {seconds:7.2f} s  {gen / seconds:7.1f} generated tok/s")
        for a, b in [(a, b) for i, a in enumerate(modes) for b in modes[i + 1:]]:
            same = sum(results[a][0][k].token_ids == results[b][0][k].token_ids for k in results[a][0])
            print(f"{name:14s} ratio {a} / {b}: {results[a][2] / results[b][2]:.2f}x tok/s, "
                  f"{results[a][1] / results[b][1]:.2f} of the time; identical token ids {same}/{len(reqs)}")


if __name__ == "__main__":
    main()
