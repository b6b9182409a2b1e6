"""Batched engine throughput vs a one-prompt-at-a-time loop over the same model, same prompts, one run.

    python scripts/bench_engine.py [--model smollm2-135m-instruct] [--prompts 48] [--max-tokens 64]

Two workloads, both greedy, cache bypassed, tokens/s counting generated tokens:
  open answers   the suite's question stems asked as open questions (short prompt, longer answer):
                 decode-bound, where batching pays off most
  suite prompts  every instance exactly as `medrun eval` renders it (long prompt, few answer tokens):
                 prefill-bound; prefill is compute-bound on CPU, batched or not, so the gain is smaller
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
from runner.pipeline.plan import Target, plan
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


def throughput(engine, reqs: list[Request], one_at_a_time: bool) -> tuple[int, int, float]:
    """(generated tokens, prompt tokens, seconds)."""
    start = time.perf_counter()
    groups = [[r] for r in reqs] if one_at_a_time else [reqs]
    done = [c for g in groups for c in engine.generate(g)]
    return sum(c.completion_tokens for c in done), sum(c.prompt_tokens for c in done), time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--prompts", type=int, default=48, help="open-answer prompts")
    ap.add_argument("--max-tokens", type=int, default=64, help="answer length for open answers")
    ap.add_argument("--max-batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--limit", type=int, default=1, help="suite prompts: instances per scenario")
    ap.add_argument("--suite-prompts", type=int, default=None, help="suite prompts: at most this many (default all)")
    ap.add_argument("--smoke", action="store_true", help="smallest size (CI): 4 open answers of 8 tokens, "
                    "4 suite prompts")
    args = ap.parse_args()
    if args.smoke:
        args.prompts, args.max_tokens, args.limit, args.suite_prompts = 4, 8, 1, 4

    card = find_card(args.model)
    weights = resolve(card)
    engine = make_engine("hf", card, weights, EngineOptions(device=args.device, max_batch_size=args.max_batch_size))
    scenarios = load_suite(paths.suite_dir()).scenarios
    workloads = {
        "open answers": open_answer_requests(engine, weights.fingerprint, scenarios, args.prompts, args.max_tokens),
        "suite prompts": [p.request for p in plan(EvalConfig(limit=args.limit, robustness=False), scenarios,
                                                  Target(engine.render, weights.fingerprint, engine.identity()))
                          ][:args.suite_prompts],
    }
    list(engine.generate(workloads["open answers"][:2]))  # warm-up: load weights, first kernels

    info = engine.describe()
    print(f"model {card.id}  device {info['device']}  dtype {info['dtype']}  threads {info['threads']}  "
          f"batch_tokens {info['batch_tokens']}  max_batch_size {info['max_batch_size']}")
    for name, reqs in workloads.items():
        rates = {}
        for mode in ("batched", "one-at-a-time"):
            gen, prompt, seconds = throughput(engine, reqs, one_at_a_time=mode != "batched")
            rates[mode] = gen / seconds
            print(f"{name:14s} {mode:14s} {len(reqs):3d} prompts  {prompt:6d} prompt tok  {gen:5d} generated tok"
                  f"  {seconds:7.2f} s  {rates[mode]:7.1f} generated tok/s")
        print(f"{name:14s} ratio batched / one-at-a-time: {rates['batched'] / rates['one-at-a-time']:.2f}x")


if __name__ == "__main__":
    main()
