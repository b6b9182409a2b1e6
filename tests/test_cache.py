"""The SQLite completion cache, on a real database file."""

from __future__ import annotations

from runner.completions.cache import Cache, request_key
from runner.engines import Completion, Decoding

ENGINE = {"engine": "hf", "torch": "2.13.0", "transformers": "5.0", "dtype": "float32", "device": "cpu"}


def test_roundtrip_and_persistence(tmp_path):
    db = tmp_path / "c.sqlite"
    cache = Cache(db)
    c = Completion("k1", "ESI 2", 50, 3, "stop", [("2", -0.1), ("3", -2.5)], 0.25, [17, 204, 2])
    cache.put_many("fp", ENGINE, [c])
    cache.close()
    reopened = Cache(db)
    assert reopened.get_many(["k1", "k2"]) == {"k1": c}
    assert reopened.count() == 1


def test_key_covers_model_engine_prompt_decoding_and_seed():
    d = Decoding(max_tokens=8)
    base = request_key("fp", ENGINE, "prompt", d)
    assert base == request_key("fp", dict(ENGINE), "prompt", Decoding(max_tokens=8))
    variants = [request_key("fp2", ENGINE, "prompt", d), request_key("fp", ENGINE, "prompt ", d),
                *(request_key("fp", {**ENGINE, k: v}, "prompt", d) for k, v in (
                    ("engine", "vllm"), ("torch", "2.14.1"), ("transformers", "5.1"), ("dtype", "bfloat16"),
                    ("device", "cuda"))),
                request_key("fp", {**ENGINE, "batch_invariant": True}, "prompt", d),
                request_key("fp", ENGINE, "prompt", Decoding(max_tokens=9)),
                request_key("fp", ENGINE, "prompt", Decoding(max_tokens=8, temperature=0.7, seed=0)),
                request_key("fp", ENGINE, "prompt", Decoding(max_tokens=8, temperature=0.7, seed=1)),
                request_key("fp", ENGINE, "prompt", Decoding(max_tokens=8, temperature=0.7, top_p=0.9, seed=1)),
                request_key("fp", ENGINE, "prompt", Decoding(max_tokens=8, top_logprobs=20))]
    assert len({base, *variants}) == len(variants) + 1


def test_a_cache_written_by_an_older_medrun_keeps_its_rows(tmp_path):
    import sqlite3

    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as con:  # the table as medrun 0.1 created it
        con.execute("CREATE TABLE completions (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, text TEXT NOT NULL, "
                    "prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, finish_reason TEXT NOT NULL, "
                    "first_token_logprobs TEXT NOT NULL, seconds REAL NOT NULL, created_at TEXT NOT NULL DEFAULT '')")
        con.execute("INSERT INTO completions VALUES ('old', 'fp', 'ESI 1', 9, 1, 'stop', '[]', 0.1, '')")
    cache = Cache(db)
    assert cache.get_many(["old"])["old"].text == "ESI 1" and cache.get_many(["old"])["old"].token_ids == []
    cache.put_many("fp", ENGINE, [Completion("new", "B", 3, 1, "stop", [], 0.0, [33])])
    assert cache.get_many(["new"])["new"].token_ids == [33] and cache.count() == 2
