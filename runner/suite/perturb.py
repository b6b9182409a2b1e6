"""Robustness twins: deterministic perturbations of an instance's main text.

Each function returns the perturbed text, or None when it does not apply (nothing to abbreviate, no
normal vital sign to drop). The random choices are seeded by the instance id, so twins are the same
on every run. Dropped vitals are only ever normal-range ones, so the reference answer stays right."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Callable

ABBREVIATIONS = {
    "shortness of breath": "SOB", "blood pressure": "BP", "heart rate": "HR", "respiratory rate": "RR",
    "history of": "hx of", "complains of": "c/o", "patient": "pt", "years old": "y/o", "year-old": "y/o",
    "without": "w/o", "emergency department": "ED", "temperature": "temp", "hypertension": "HTN",
    "diabetes": "DM", "chest pain": "CP", "nausea and vomiting": "N/V", "twice daily": "BID",
    "atrial fibrillation": "AF", "myocardial infarction": "MI", "oxygen saturation": "sats",
}
NOISE = (
    "Their parking ticket was validated at the front desk.",
    "A relative is waiting outside in the car.",
    "They ask whether the waiting room has wifi.",
    "They mention they recently changed their mobile phone provider.",
    "They are holding a coffee bought on the way in.",
    "They say the bus was late this morning.",
)
# (pattern, test that the captured value is normal) for vitals written as triage staff do
VITALS: tuple[tuple[str, Callable[[re.Match], bool]], ...] = (
    (r"\bBP:? ?(\d{2,3})/(\d{2,3})(?: ?mm ?Hg)?", lambda m: 100 <= int(m.group(1)) <= 140 and 60 <= int(m.group(2)) <= 90),
    (r"\bHR:? ?(\d{2,3})(?: ?bpm)?", lambda m: 60 <= int(m.group(1)) <= 100),
    (r"\bRR:? ?(\d{1,2})(?:/min)?", lambda m: 12 <= int(m.group(1)) <= 20),
    # on oxygen a "normal" saturation is itself a finding (e.g. over-oxygenation in COPD): never dropped
    (r"\bSpO2:? ?(\d{2,3}) ?%(?: ?(?:on |in )?(?:RA|room air|air))?(?! ?(?:on|with|via) ?(?:\d|O2|oxygen|mask|NRB|nasal|NC|HFNC))",
     lambda m: int(m.group(1)) >= 95),
    (r"\b(?:T|Temp):? ?(\d{2}(?:\.\d)?) ?°? ?C\b", lambda m: 36.0 <= float(m.group(1)) <= 37.2),
)


def _rng(key: str) -> random.Random:
    return random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))


def typos(text: str, key: str) -> str | None:
    """Swap two inner letters in about one word in eight (at least one) of the words of 5+ letters."""
    rng = _rng(key + "typos")
    spans = [m.span() for m in re.finditer(r"\b[A-Za-z]{5,}\b", text)]
    if not spans:
        return None
    chosen = [s for s in spans if rng.random() < 0.125] or [rng.choice(spans)]
    out = list(text)
    for start, end in chosen:
        j = rng.randrange(start + 1, end - 2)
        out[j], out[j + 1] = out[j + 1], out[j]
    return "".join(out)


def abbreviations(text: str, key: str) -> str | None:
    out = text
    for phrase, short in ABBREVIATIONS.items():
        out = re.sub(rf"\b{re.escape(phrase)}\b", short, out, flags=re.IGNORECASE)
    return out if out != text else None


def drop_vitals(text: str, key: str) -> str | None:
    """Remove one normal-range vital sign (and the separator after it)."""
    normal = [m for pattern, ok in VITALS for m in re.finditer(pattern, text) if ok(m)]
    if not normal:
        return None
    m = _rng(key + "vitals").choice(sorted(normal, key=lambda m: m.start()))
    before, after = text[: m.start()], text[m.end():]
    if re.match(r"\s*[,;]", after):  # "HR 88, BP ..." -> "BP ..."
        after = re.sub(r"^\s*[,;] ?", "", after)
    else:  # "..., T 36.8 C." -> "...."
        before = re.sub(r"[,;] ?$", "", before)
    return re.sub(r"(^|\n)[ \t]*[.,;][ \t]*", r"\1", before + after)  # no line left holding only punctuation


def noise(text: str, key: str) -> str | None:
    return f"{text.rstrip()}\n{_rng(key + 'noise').choice(NOISE)}"


# Normal ranges above are adult ranges: a child's "normal-looking" HR 80 may be bradycardia.
ADULT_ONLY = {"drop_vitals"}

PERTURBATIONS: dict[str, Callable[[str, str], str | None]] = {
    "typos": typos, "abbreviations": abbreviations, "drop_vitals": drop_vitals, "noise": noise}
