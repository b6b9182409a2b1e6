"""The SQLite completion cache, on a real database file."""

from __future__ import annotations

from runner.cache import Cache, request_key
from runner.engines import Completion, Decoding


def test_roundtrip_and_persistence(tmp_path):
    db = tmp_path / "c.sqlite"
    cache = Cache(db)
    c = Completion("k1", "ESI 2", 50, 3, "stop", [("2", -0.1), ("3", -2.5)], 0.25)
    cache.put_many("fp", [c])
    cache.close()
    reopened = Cache(db)
    assert reopened.get_many(["k1", "k2"]) == {"k1": c}
    assert reopened.count() == 1


def test_key_covers_model_prompt_decoding_and_seed():
    d = Decoding(max_tokens=8)
    base = request_key("fp", "prompt", d)
    assert base == request_key("fp", "prompt", Decoding(max_tokens=8))
    variants = [request_key("fp2", "prompt", d), request_key("fp", "prompt ", d),
                request_key("fp", "prompt", Decoding(max_tokens=9)),
                request_key("fp", "prompt", Decoding(max_tokens=8, temperature=0.7, seed=0)),
                request_key("fp", "prompt", Decoding(max_tokens=8, temperature=0.7, seed=1)),
                request_key("fp", "prompt", Decoding(max_tokens=8, top_logprobs=20))]
    assert len({base, *variants}) == len(variants) + 1
