"""SQLite completion cache: every completion is committed as soon as its batch finishes.

The key is a sha256 of (model fingerprint, rendered prompt, decoding settings incl. seed), so a
killed run resumes by generating only what is missing, and two runs never mix models or settings.
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
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


def request_key(fingerprint: str, prompt: str, decoding: Decoding) -> str:
    payload = json.dumps({"model": fingerprint, "prompt": prompt, "decoding": decoding.as_dict()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class Cache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)
        self.db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        keys = list(keys)
        found: dict[str, Completion] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            rows = self.db.execute(
                "SELECT key, text, prompt_tokens, completion_tokens, finish_reason, first_token_logprobs, seconds "
                f"FROM completions WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            for key, text, pt, ct, fr, lp, sec in rows:
                found[key] = Completion(key, text, pt, ct, fr, [tuple(x) for x in json.loads(lp)], sec)
        return found

    def put_many(self, fingerprint: str, completions: Iterable[Completion]) -> None:
        """Insert and commit at once: what is here survives a SIGKILL one instant later."""
        self.db.executemany(
            "INSERT OR REPLACE INTO completions (key, fingerprint, text, prompt_tokens, completion_tokens, "
            "finish_reason, first_token_logprobs, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(c.key, fingerprint, c.text, c.prompt_tokens, c.completion_tokens, c.finish_reason,
              json.dumps(c.first_token_logprobs), c.seconds) for c in completions])
        self.db.commit()

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM completions").fetchone()[0]

    def close(self) -> None:
        self.db.close()
