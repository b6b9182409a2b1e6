"""SQLite completion cache: every completion is committed as soon as the engine yields it.

The key is a sha256 of (model fingerprint, engine identity, rendered prompt, decoding settings incl.
the seed), so a killed run resumes by generating only what is missing, and a run never takes a
completion made by another model, engine, library version, dtype or device kind, or other settings.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Iterable

from runner.engines.base import Completion, Decoding

SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    first_token_logprobs TEXT NOT NULL,
    seconds REAL NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    engine TEXT NOT NULL DEFAULT '{}',
    token_ids TEXT NOT NULL DEFAULT '[]'
)
"""
ADDED = {"engine": "TEXT NOT NULL DEFAULT '{}'", "token_ids": "TEXT NOT NULL DEFAULT '[]'"}  # since medrun 0.2
COLUMNS = "key, text, prompt_tokens, completion_tokens, finish_reason, first_token_logprobs, seconds, token_ids"


def request_key(fingerprint: str, engine: dict, prompt: str, decoding: Decoding) -> str:
    payload = json.dumps({"model": fingerprint, "engine": engine, "prompt": prompt,
                          "decoding": decoding.as_dict()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class Cache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)
        have = {row[1] for row in self.db.execute("PRAGMA table_info(completions)")}
        for column, spec in ADDED.items():  # a cache written by an older medrun keeps its rows
            if column not in have:
                self.db.execute(f"ALTER TABLE completions ADD COLUMN {column} {spec}")
        self.db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        keys = list(keys)
        found: dict[str, Completion] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            rows = self.db.execute(f"SELECT {COLUMNS} FROM completions WHERE key IN ({','.join('?' * len(chunk))})",
                                   chunk)
            for key, text, pt, ct, fr, lp, sec, ids in rows:
                found[key] = Completion(key, text, pt, ct, fr, [tuple(x) for x in json.loads(lp)], sec, json.loads(ids))
        return found

    def put_many(self, fingerprint: str, engine: dict, completions: Iterable[Completion]) -> None:
        """Insert and commit at once: what is here survives a SIGKILL one instant later."""
        self.db.executemany(
            "INSERT OR REPLACE INTO completions (key, fingerprint, engine, text, prompt_tokens, completion_tokens, "
            "finish_reason, first_token_logprobs, seconds, token_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(c.key, fingerprint, json.dumps(engine, sort_keys=True), c.text, c.prompt_tokens, c.completion_tokens,
              c.finish_reason, json.dumps(c.first_token_logprobs), c.seconds, json.dumps(c.token_ids))
             for c in completions])
        self.db.commit()

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM completions").fetchone()[0]

    def close(self) -> None:
        self.db.close()
