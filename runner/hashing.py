"""sha256 of files and of named collections of digests: the fingerprints a run's manifest records."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_of(named: Mapping[str, str]) -> str:
    """One sha256 over sorted (name, digest) pairs: a folder, a suite, the scoring code."""
    return hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in sorted(named.items())).encode()).hexdigest()


def tree_digests(root: Path, patterns: tuple[str, ...]) -> dict[str, str]:
    """Relative path -> sha256 of every file under `root` matching one of the glob patterns."""
    return {p.relative_to(root).as_posix(): sha256_file(p)
            for pattern in patterns for p in sorted(root.glob(pattern)) if p.is_file()}
