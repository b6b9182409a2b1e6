"""Continuous batching and answer-choice scoring in the transformers engine, on the real embedded model.

Continuous batching must not change a greedy answer: compared token for token with one request per
call and with static batches, on the suite's own prompts of every task kind, with batch-mates of other
lengths and decoding settings joining and leaving mid-answer."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch

from runner import paths
from runner.completions.cache import request_key
from runner.engines import Decoding, EngineOptions, Request, make_engine
from runner.engines.hf_continuous import ContinuousDecoder
from runner.errors import MedrunError
from runner.pipeline.config import EvalConfig
from runner.pipeline.plan import Target, plan
from runner.suite.load import load_suite


@pytest.fixture(scope="module")
def suite_requests(engine, weights):
    """One instance of every other scenario (every task kind), as `medrun eval` renders it, answers capped at
    20 tokens (the caps differ by task kind, so rows finish at different steps)."""
    scenarios = load_suite(paths.suite_dir()).scenarios
    planned = plan(EvalConfig(limit=1, robustness=False), scenarios[::2],
                   Target(engine.render, weights.fingerprint, engine.identity()))
    out = []
    for p in planned:
        d = replace(p.request.decoding, max_tokens=min(p.request.decoding.max_tokens, 20))
        out.append(Request(request_key("fp", {}, p.request.prompt, d), p.request.prompt, d))
    return out


def generate(engine, reqs, batching="continuous", alone=False):
    before = engine.batching
    engine.batching = batching
    try:
        calls = [[r] for r in reqs] if alone else [reqs]
        return {c.key: c for call in calls for c in engine.generate(call)}
    finally:
        engine.batching = before


@pytest.fixture(scope="module")
def continuous(engine, suite_requests):
    return generate(engine, suite_requests)


def test_continuous_equals_one_at_a_time_and_static_on_suite_prompts(engine, suite_requests, continuous):
    assert len({r.prompt.split("<|im_start|>user")[0] for r in suite_requests}) >= 6  # task kinds' system prompts
    alone = generate(engine, suite_requests, alone=True)
    static = generate(engine, suite_requests, batching="static")
    assert set(continuous) == {r.key for r in suite_requests}
    assert len({r.decoding.max_tokens for r in suite_requests}) > 1
    for r in suite_requests:
        c = continuous[r.key]
        assert c.token_ids == alone[r.key].token_ids == static[r.key].token_ids, r.prompt[-200:]
        assert c.text == alone[r.key].text == static[r.key].text
        assert c.finish_reason == static[r.key].finish_reason
        assert [t for t, _ in c.first_token_logprobs] == [t for t, _ in static[r.key].first_token_logprobs]
        for (_, a), (_, b) in zip(c.first_token_logprobs, static[r.key].first_token_logprobs):
            assert abs(a - b) < 1e-3


def test_small_slots_and_shuffled_order_give_the_same_answers(card, weights, engine, suite_requests, continuous):
    """Other batch-mates: 3 slots and a tight token budget, so rows join and leave all through the run."""
    small = make_engine("hf", card, weights, EngineOptions(max_batch_size=3, batch_tokens=3000))
    small._model = engine.model
    order = list(suite_requests)
    random.Random(5).shuffle(order)
    again = generate(small, order)
    assert again.keys() == continuous.keys()
    for key, c in again.items():
        assert c.token_ids == continuous[key].token_ids


def test_a_finished_row_is_refilled_at_once(engine, monkeypatch):
    """Two slots, one long answer and four short ones: the short ones pass through the second slot while
    the long one runs, so they are yielded first and the run takes about as many steps as the long answer."""
    steps = []
    step = ContinuousDecoder._step

    def counted(self):
        steps.append(len(self.rows))
        step(self)

    monkeypatch.setattr(ContinuousDecoder, "_step", counted)
    prompt = engine.render([{"role": "user", "content": "Describe the management of sepsis in detail."}])
    long = Request("long", prompt, Decoding(max_tokens=40))
    shorts = [Request(f"short{i}", engine.render([{"role": "user", "content": f"Say {i}."}]), Decoding(max_tokens=3))
              for i in range(4)]
    engine.max_batch_size, before = 2, engine.max_batch_size
    try:
        order = [c.key for c in engine.generate([long] + shorts)]
    finally:
        engine.max_batch_size = before
    assert order[-1] == "long" and sorted(order[:-1]) == sorted(s.key for s in shorts)
    assert max(steps) == 2 and len(steps) <= 40
    assert steps.count(2) >= 4  # the second slot was busy with short answers during the long one


def test_mixed_decodings_share_a_continuous_batch(engine):
    """Stop strings, first-token log-probs and seeded sampling per row, all in one call: each row gets
    what it would get alone."""
    q = [engine.render([{"role": "user", "content": c}]) for c in
         ("Name two causes of chest pain.", "What is a normal adult heart rate?", "Define sepsis.")]
    reqs = [Request("stop", q[0], Decoding(max_tokens=30, stop=(".",))),
            Request("top", q[1], Decoding(max_tokens=12, top_logprobs=4)),
            Request("sample", q[2], Decoding(max_tokens=20, temperature=0.9, top_p=0.9, seed=11)),
            Request("sample2", q[0], Decoding(max_tokens=20, temperature=0.9, seed=12))]
    together = generate(engine, reqs)
    for r in reqs:
        alone = generate(engine, [r])[r.key]
        assert together[r.key].token_ids == alone.token_ids, r.key
        assert generate(engine, [r], batching="static")[r.key].token_ids == alone.token_ids, r.key
    assert together["stop"].text.rstrip().endswith(".") and together["stop"].finish_reason == "stop"
    assert len(together["top"].first_token_logprobs) == 4
    assert together["sample"].token_ids != generate(engine, [replace(reqs[2], decoding=replace(reqs[2].decoding, seed=13))])[
        "sample"].token_ids


def test_batch_invariant_decodes_each_request_alone(card, weights):
    alone = make_engine("hf", card, weights, EngineOptions(batch_invariant=True))
    assert alone.max_batch_size == 1 and alone.describe()["batch_invariant"] is True


def test_bad_batching_options_are_refused(card, weights):
    with pytest.raises(MedrunError, match="--batching 'dynamic': choose continuous or static"):
        make_engine("hf", card, weights, EngineOptions(batching="dynamic"))
    with pytest.raises(MedrunError, match="--batch-tokens and --max-batch-size must be at least 1"):
        make_engine("hf", card, weights, EngineOptions(max_batch_size=0))


# ---- answer choices: one forward pass ---------------------------------------------------------------------

def mc_prompt(engine, question: str) -> str:
    return engine.render([{"role": "user", "content": question}]) + "Answer:"


QUESTIONS = [
    "Which drug reverses opioid overdose?\nA. Naloxone\nB. Flumazenil\nC. Atropine\nD. Glucagon",
    "First-line treatment of anaphylaxis in an adult?\nA. Oral antihistamine\nB. Intramuscular adrenaline\n"
    "C. Inhaled salbutamol\nD. Intravenous hydrocortisone\nAnswer with one letter, after thinking it through.",
    "Which finding most suggests a stroke?\nA. Sudden one-sided weakness\nB. Itchy rash",
]


def test_choice_logprobs_are_the_next_token_logprobs_of_an_unpadded_forward(engine):
    """Each row of a padded batch gets the log-probs a lone, unpadded forward pass gives its choices."""
    reqs = [Request(f"q{i}", mc_prompt(engine, q), Decoding(max_tokens=1, choices=tuple(f" {c}" for c in "ABCD"[: 2 if i == 2 else 4])))
            for i, q in enumerate(QUESTIONS)]
    done = {c.key: c for c in engine.generate(reqs)}
    for r in reqs:
        ids = engine.tokenizer(r.prompt, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            ref = engine.model(input_ids=torch.tensor([ids])).logits[0, -1].float().log_softmax(-1)
        c = done[r.key]
        choice_ids = [engine.tokenizer(r.prompt + ch, add_special_tokens=False)["input_ids"][-1] for ch in r.decoding.choices]
        assert [t for t, _ in c.first_token_logprobs] == list(r.decoding.choices)
        for (_, lp), tid in zip(c.first_token_logprobs, choice_ids):
            assert abs(lp - ref[tid].item()) < 1e-4
        best = max(c.first_token_logprobs, key=lambda x: x[1])[0]
        assert c.text == best.strip() and c.finish_reason == "choice" and c.completion_tokens == 0
        assert c.token_ids == [choice_ids[[t for t, _ in c.first_token_logprobs].index(best)]]


def test_choices_agree_with_the_first_generated_token(engine):
    """Where greedy generation after 'Answer:' starts with one of the choices, the choices' argmax is it."""
    prompts = [mc_prompt(engine, q) for q in QUESTIONS[:2]]
    scored = {c.key: c for c in engine.generate([Request(f"c{i}", p, Decoding(max_tokens=1, choices=(" A", " B", " C", " D")))
                                                 for i, p in enumerate(prompts)])}
    free = {c.key: c for c in engine.generate([Request(f"c{i}", p, Decoding(max_tokens=1, top_logprobs=40))
                                               for i, p in enumerate(prompts)])}
    for key, c in scored.items():
        top = dict(free[key].first_token_logprobs)
        for choice, lp in c.first_token_logprobs:
            if choice in top:
                assert abs(top[choice] - lp) < 1e-4


@pytest.mark.parametrize("choices, message", [
    ((" Naloxone", " Flumazenil"), r"answer choice ' Naloxone' is not one token after the prompt"),
    ((" A", " A"), r"share a token"),
])
def test_choices_that_are_not_one_distinct_token_are_refused_before_any_work(engine, choices, message):
    with pytest.raises(MedrunError, match=message):
        list(engine.generate([Request("k", mc_prompt(engine, QUESTIONS[0]), Decoding(max_tokens=1, choices=choices))]))


def test_choices_keep_other_requests_cache_keys():
    assert "choices" not in Decoding(max_tokens=4).as_dict()
    assert Decoding(max_tokens=1, choices=(" A", " B")).as_dict()["choices"] == (" A", " B")


@pytest.mark.parametrize("seed", range(5))
def test_length_chunks_bound_padding_and_keep_every_item_once(seed):
    from runner.engines.hf_continuous import PREFILL_TOKENS, length_chunks

    rng = random.Random(seed)
    lengths = [rng.choice([rng.randint(5, 60), rng.randint(100, 900), rng.randint(1000, 6000)]) for _ in range(80)]
    items = list(enumerate(lengths))
    chunks = length_chunks(items, lambda x: x[1], max_rows=7)
    assert sorted(x for c in chunks for x in c) == sorted(items)
    for c in chunks:
        padded = max(x[1] for x in c) * len(c)
        assert len(c) == 1 or (padded <= PREFILL_TOKENS and padded <= 1.2 * sum(x[1] for x in c) and len(c) <= 7)
