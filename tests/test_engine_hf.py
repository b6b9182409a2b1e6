"""The transformers engine on the real embedded model (CPU, float32)."""

from __future__ import annotations

import pytest

from runner.completions.cache import request_key
from runner.engines import Decoding, Request

QUESTIONS = [
    "Name one symptom of a stroke.",
    "Which organ does hepatitis affect? Answer in one word.",
    "Is aspirin an antiplatelet drug? Answer yes or no, then explain briefly why this matters before surgery.",
    "What does ECG stand for?",
]


def requests(engine, decoding: Decoding, fingerprint: str = "fp") -> list[Request]:
    prompts = [engine.render([{"role": "user", "content": q}]) for q in QUESTIONS]
    return [Request(request_key(fingerprint, engine.identity(), p, decoding), p, decoding) for p in prompts]


@pytest.fixture(params=["continuous", "static"])
def each_batching(engine, request):
    """The shared engine, decoding in continuous batches, then in static ones."""
    before = engine.batching
    engine.batching = request.param
    yield engine
    engine.batching = before


def by_key(engine, reqs):
    return {c.key: c for c in engine.generate(reqs)}


def test_greedy_batch_is_deterministic_and_complete(each_batching):
    engine = each_batching
    reqs = requests(engine, Decoding(max_tokens=12, top_logprobs=5))
    first, second = by_key(engine, reqs), by_key(engine, reqs)
    assert set(first) == {r.key for r in reqs}
    assert {k: c.text for k, c in first.items()} == {k: c.text for k, c in second.items()}
    for c in first.values():
        assert c.text.strip() and 0 < c.completion_tokens <= 12 and c.prompt_tokens > 10
        assert c.finish_reason in ("stop", "length")
        assert c.finish_reason == "stop" or c.completion_tokens == 12
        lps = [lp for _, lp in c.first_token_logprobs]
        assert len(lps) == 5 and lps == sorted(lps, reverse=True) and all(lp <= 0 for lp in lps)


def test_first_token_logprob_matches_greedy_choice(each_batching):
    engine = each_batching
    """Greedy decoding takes the most probable first token: the reply starts with the top-1 token."""
    for c in by_key(engine, requests(engine, Decoding(max_tokens=4, top_logprobs=3))).values():
        assert c.text.startswith(c.first_token_logprobs[0][0].strip()[:1])


def test_batched_equals_one_at_a_time_greedy(each_batching):
    engine = each_batching
    reqs = requests(engine, Decoding(max_tokens=10))
    batched = by_key(engine, reqs)
    single = {}
    for r in reqs:
        single.update(by_key(engine, [r]))
    agree = sum(batched[k].text == single[k].text for k in batched)
    assert agree >= len(reqs) - 1, (batched, single)  # padding may flip a float tie, not more


def test_seeded_sampling_is_per_request(each_batching):
    engine = each_batching
    sample = lambda seed: Decoding(max_tokens=16, temperature=1.0, seed=seed)
    a = by_key(engine, requests(engine, sample(7)))
    again = by_key(engine, requests(engine, sample(7)))
    other = by_key(engine, requests(engine, sample(8)))
    assert [c.text for c in a.values()] == [c.text for c in again.values()]
    assert [c.text for c in a.values()] != [c.text for c in other.values()]
    # a row's draws do not depend on its batch-mates: alone it samples the same text
    r = requests(engine, sample(7))[0]
    assert by_key(engine, [r])[r.key].text == a[r.key].text


def test_too_long_prompt_is_a_clear_error(engine):
    from runner.errors import MedrunError

    long = Request("k", "word " * 9000, Decoding(max_tokens=4))
    with pytest.raises(MedrunError, match="exceeds the model's context of 8192 tokens"):
        list(engine.generate([long]))


def test_batches_respect_token_budget(engine):
    reqs = requests(engine, Decoding(max_tokens=8)) * 1
    batches = list(engine._batches(engine._encode(reqs + [Request("x", "short", Decoding(max_tokens=3))])))
    assert sum(len(b) for b in batches) == len(reqs) + 1
    for b in batches:
        assert len({r.decoding.batch_group() for r, _ in b}) == 1
        width = max(len(ids) for _, ids in b) + b[0][0].decoding.max_tokens
        assert len(b) == 1 or width * len(b) <= engine.batch_tokens
        lengths = [len(ids) for _, ids in b]
        assert lengths == sorted(lengths, reverse=True)


def test_out_of_memory_halves_the_batch_and_retries(engine, monkeypatch):
    """CUDA is not here, so the out-of-memory error is raised by a stand-in for one batch's forward
    pass; what is tested is the engine's own recovery: halve, retry, keep every request."""
    import torch

    from runner.engines import Completion

    tried = []

    def run(batch):
        tried.append(len(batch))
        if len(batch) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return [Completion(r.key, "ok", len(ids), 1, "stop") for r, ids in batch]

    monkeypatch.setattr(engine, "_run", run)
    monkeypatch.setattr(engine, "batching", "static")
    reqs = [Request(f"k{i}", f"prompt {i}", Decoding(max_tokens=4)) for i in range(7)]
    done = list(engine.generate(reqs))
    assert sorted(c.key for c in done) == sorted(r.key for r in reqs)
    assert tried[0] == 7  # the whole batch first
    assert sum(n for n in tried if n <= 2) == 7  # then halves until each part fits, every request once


def test_a_stop_string_ends_each_row_where_it_first_appears(each_batching):
    engine = each_batching
    """Rows of one batch stop at their own first stop string (the judges' closing brace); the rest of the
    row's generation, and the padding after it, is not part of the completion. Compared with the same
    prompts generated without the stop string: each stopped text is the prefix of the free text that
    ends at the first stop string, token for token."""
    stops = (".", "?")
    free = by_key(engine, requests(engine, Decoding(max_tokens=40)))
    stopped = by_key(engine, requests(engine, Decoding(max_tokens=40, stop=stops)))
    free_list = [free[r.key] for r in requests(engine, Decoding(max_tokens=40))]
    stopped_list = [stopped[r.key] for r in requests(engine, Decoding(max_tokens=40, stop=stops))]
    assert any(any(s in c.text for s in stops) for c in free_list)
    for whole, cut in zip(free_list, stopped_list):
        assert whole.token_ids[: len(cut.token_ids)] == cut.token_ids
        if any(s in whole.text for s in stops):
            assert any(cut.text.endswith(s) or cut.text.rstrip().endswith(s) for s in stops), cut.text
            assert not any(s in engine.tokenizer.decode(cut.token_ids[:-1]) for s in stops)
        else:
            assert cut.token_ids == whole.token_ids


def test_requests_without_stop_strings_keep_their_cache_keys():
    assert "stop" not in Decoding(max_tokens=8).as_dict() and Decoding(max_tokens=8, stop=("}",)).as_dict()["stop"]
    assert request_key("fp", {}, "p", Decoding(max_tokens=8)) != request_key("fp", {}, "p", Decoding(max_tokens=8, stop=("}",)))
