"""The drug vocabulary (vocab/drugs.txt): which drugs a text names, by canonical generic name.

Documentation scoring uses it to find medications a note names that its source does not."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from runner.grading.matching import normalize, occurrences, phrase_regex

VOCABULARY = Path(__file__).resolve().parent / "vocab" / "drugs.txt"


@lru_cache(maxsize=1)
def drug_names() -> dict[str, str]:
    """Every name in the vocabulary -> its canonical name. A line is one drug: the generic name first,
    then its synonyms and brands, comma-separated ("furosemide, frusemide, lasix")."""
    names: dict[str, str] = {}
    for line in VOCABULARY.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            group = [normalize(n.strip()) for n in line.split(",") if n.strip()]
            names.update({n: group[0] for n in group})
    return names


def drugs_in(text: str, affirmed_only: bool = False) -> set[str]:
    """Canonical names of the drugs a text names. The longest name wins where names nest ("co-codamol
    (paracetamol-codeine)" is one drug, not also paracetamol and codeine); with affirmed_only,
    "not on insulin" names no drug."""
    hits = [(m.start(), m.end(), canonical, negated) for name, canonical in drug_names().items()
            for m, negated in occurrences(text, phrase_regex(name))]
    taken: list[tuple[int, int]] = []
    found = set()
    for start, end, canonical, negated in sorted(hits, key=lambda h: h[0] - h[1]):  # longest first
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        if not (affirmed_only and negated):
            found.add(canonical)
    return found
