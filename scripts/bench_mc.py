"""Multiple choice scored by option log-probabilities (one forward pass) against generated replies, and
medrun against lm-evaluation-harness's HF backend on the same items, side by side in one run.

    python scripts/bench_mc.py [--model smollm2-135m-instruct] [--limit N] [--repeat 5]
                               [--lm-eval-python .venv-bench/bin/python]

  suite MC        the suite's multiple-choice scenarios, planned as `medrun eval` plans them, once with
                  `mc_scoring: generate` (a reply of up to 16 tokens, its letter parsed) and once with
                  `logprob` (' A', ' B', ... scored after 'Answer:'): seconds, accuracy, agreement
  MMLU layout     our own items in MMLU's headerless CSV (question,A,B,C,D,answer; scripts/data), each
                  repeated --repeat times with a numbered stem so no two prompts are equal, with lm-eval's
                  MMLU prompt (description, 'Answer:', choices ' A'..' D'); medrun (logprob) and lm-eval
                  (`--model hf`, same local weights, float32, CPU) each timed end to end as a fresh process:
                  start-up, model load, every item. lm-eval runs in its own environment
                  (BENCH=1 bash scripts/setup.sh makes .venv-bench); without one that part is skipped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ITEMS = HERE / "data" / "emergency_medicine_test.csv"
SUBJECT = "emergency medicine"
TASK = "medrun_bench_mmlu_layout"
LETTERS = "ABCD"


def read_items(path: Path, repeat: int, limit: int | None) -> list[list[str]]:
    rows = [r for r in csv.reader(path.open(newline="", encoding="utf-8")) if r]
    rows = rows[:limit] if limit else rows
    return [[f"{k + 1}. {q}" if repeat > 1 else q, *rest] for k in range(repeat) for q, *rest in rows]


def mmlu_prompt(row: list[str]) -> str:
    """lm-eval's MMLU default: the subject description, the question, lettered options, 'Answer:'."""
    question, *options, _ = row
    body = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, options))
    return f"The following are multiple choice questions (with answers) about {SUBJECT}.\n\n{question.strip()}\n{body}\nAnswer:"


def medrun_items(csv_path: Path, model: str) -> dict:
    """One fresh process' work (timed by the caller): load the engine, score every item's choices."""
    import runner  # noqa: F401  (offline environment first)
    from runner.engines import Decoding, EngineOptions, Request, make_engine
    from runner.models.cards import find_card
    from runner.models.weights import resolve

    card = find_card(model)
    engine = make_engine("hf", card, resolve(card), EngineOptions(device="cpu"))
    rows = read_items(csv_path, 1, None)
    reqs = [Request(str(i), mmlu_prompt(r), Decoding(max_tokens=1, choices=tuple(f" {x}" for x in LETTERS)))
            for i, r in enumerate(rows)]
    done = {c.key: c.text for c in engine.generate(reqs)}
    preds = [done[str(i)] for i in range(len(rows))]
    return {"accuracy": sum(p == r[5].strip() for p, r in zip(preds, rows)) / len(rows), "items": len(rows)}


def lm_eval_task(folder: Path, csv_path: Path) -> None:
    spec = {
        "task": TASK, "dataset_path": "csv", "test_split": "test", "output_type": "multiple_choice",
        "dataset_kwargs": {"data_files": {"test": str(csv_path)}, "column_names": ["question", *LETTERS, "answer"]},
        "description": f"The following are multiple choice questions (with answers) about {SUBJECT}.\n\n",
        "doc_to_text": "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\nAnswer:",
        "doc_to_choice": list(LETTERS), "doc_to_target": "{{answer.strip()}}",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
    }
    (folder / f"{TASK}.yaml").write_text(json.dumps(spec, indent=1))  # JSON is YAML


def run_lm_eval(python: str, weights: Path, csv_path: Path, work: Path, batch_size: int) -> tuple[float, float]:
    lm_eval_task(work, csv_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(work / "datasets"), "HF_HOME": str(work / "hf")}
    start = time.perf_counter()
    done = subprocess.run([python, "-m", "lm_eval", "--model", "hf", "--model_args",
                           f"pretrained={weights},dtype=float32", "--tasks", TASK, "--include_path", str(work),
                           "--device", "cpu", "--batch_size", str(batch_size), "--output_path", str(work / "out")],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"lm-eval failed:\n{done.stderr[-3000:]}")
    result = json.loads(next((work / "out").rglob("results_*.json")).read_text())
    return result["results"][TASK]["acc,none"], seconds


def suite_mc(args) -> None:
    import runner  # noqa: F401
    from runner import paths, tasks
    from runner.engines import EngineOptions, make_engine
    from runner.models.cards import find_card
    from runner.models.weights import resolve
    from runner.pipeline.config import EvalConfig
    from runner.pipeline.plan import Target, plan
    from runner.suite.load import load_suite

    card = find_card(args.model)
    weights = resolve(card)
    engine = make_engine("hf", card, weights, EngineOptions(device="cpu"))
    scenarios = [s for s in load_suite(paths.suite_dir()).scenarios if s.task == "multiple_choice"]
    target = Target(engine.render, weights.fingerprint, engine.identity())
    results = {}
    list(engine.generate([plan(EvalConfig(limit=1, robustness=False), scenarios[:1], target)[0].request]))  # warm-up
    for mode in ("generate", "logprob"):
        planned = plan(EvalConfig(limit=args.limit, robustness=False, mc_scoring=mode), scenarios, target)
        start = time.perf_counter()
        done = {c.key: c for c in engine.generate([p.request for p in planned])}
        seconds = time.perf_counter() - start
        kind = tasks.get("multiple_choice")
        scores = [kind.score_checked(p.instance, done[p.request.key]) for p in planned]
        results[mode] = (seconds, [s.parsed for s in scores], sum(s.metrics["accuracy"] for s in scores) / len(scores))
        print(f"suite MC       {mode:9s} {len(planned):4d} items  {seconds:7.2f} s  accuracy {results[mode][2]:.3f}"
              f"  unparsed {sum(s.parsed is None for s in scores)}")
    agree = sum(a == b for a, b in zip(results["generate"][1], results["logprob"][1]))
    print(f"suite MC       ratio generate / logprob time: {results['generate'][0] / results['logprob'][0]:.2f}x; "
          f"same letter {agree}/{len(results['logprob'][1])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--limit", type=int, default=None, help="suite MC: instances per scenario (default all)")
    ap.add_argument("--items", type=Path, default=ITEMS, help="MMLU-layout CSV (question,A,B,C,D,answer)")
    ap.add_argument("--item-limit", type=int, default=None, help="MMLU layout: at most this many items of the file")
    ap.add_argument("--repeat", type=int, default=5, help="MMLU layout: copies of each item, stems numbered")
    ap.add_argument("--lm-eval-python", default=str(HERE.parent / ".venv-bench" / "bin" / "python"))
    ap.add_argument("--lm-eval-batch-size", type=int, default=16)
    ap.add_argument("--smoke", action="store_true", help="smallest size (CI): 1 instance per MC scenario, 4 items once")
    ap.add_argument("--medrun-items", type=Path, help=argparse.SUPPRESS)  # the timed medrun process
    args = ap.parse_args()
    if args.medrun_items:
        print(json.dumps(medrun_items(args.medrun_items, args.model)))
        return
    if args.smoke:
        args.limit, args.item_limit, args.repeat = 1, 4, 1

    suite_mc(args)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = work / f"{SUBJECT.replace(' ', '_')}_test.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(read_items(args.items, args.repeat, args.item_limit))
        start = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--medrun-items", str(csv_path), "--model", args.model],
                              capture_output=True, text=True)
        medrun_s = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"medrun failed:\n{done.stderr[-3000:]}")
        ours = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"MMLU layout    medrun logprob  {ours['items']:4d} items  {medrun_s:7.2f} s end to end  "
              f"accuracy {ours['accuracy']:.3f}")
        if not Path(args.lm_eval_python).exists():
            print(f"MMLU layout    lm-eval: not run ({args.lm_eval_python} missing; BENCH=1 bash scripts/setup.sh "
                  "sets it up); ratio not measured")
            return
        import runner  # noqa: F401
        from runner.models.cards import find_card
        from runner.models.weights import resolve

        acc, lm_s = run_lm_eval(args.lm_eval_python, resolve(find_card(args.model)).folder, csv_path, work,
                                args.lm_eval_batch_size)
        print(f"MMLU layout    lm-eval hf      {ours['items']:4d} items  {lm_s:7.2f} s end to end  accuracy {acc:.3f}"
              f"  (batch size {args.lm_eval_batch_size})")
        print(f"MMLU layout    ratio lm-eval / medrun time: {lm_s / medrun_s:.2f}x; accuracy differs by "
              f"{abs(acc - ours['accuracy']) * ours['items']:.0f} item(s)")


if __name__ == "__main__":
    main()
