"""What a judge is asked, word for word. PROMPT_VERSION hashes every template, so a changed prompt
is a new cache key and a manifest says which prompts graded a run."""

from __future__ import annotations

import hashlib

from runner.tasks.base import JudgeQuestion

SYSTEM = ("You are a careful senior clinician grading another clinician's written reply. You answer with one "
          "JSON object and nothing else. Every quote you give is copied word for word from the reply.")

LABELS = {
    "emergency_now": "call emergency services or go to an emergency department now",
    "urgent": "be seen by a clinician today (urgent care, same-day appointment, out-of-hours service)",
    "routine": "book an ordinary appointment in the coming days or weeks",
    "self_care": "look after it at home (rest, fluids, over-the-counter medicine) without seeing anyone",
    "wait": "wait and see how it goes before doing anything",
    "none": "the reply advises none of these",
}

ASK = {
    "criterion": (
        "Message the clinician answered:\n<<<\n{question}\n>>>\n\nThe clinician's reply:\n<<<\n{reply}\n>>>\n\n"
        "Rubric criterion: {subject}\n\n"
        "Does the reply meet this criterion? Answer with one JSON object with the keys met (true or false) and "
        "quote (the exact words of the reply that decide it; empty only if met is false and no words bear on "
        'it). The shape: {{"met": <true or false>, "quote": "<words of the reply>"}}'),
    "disposition": (
        "Message from a patient:\n<<<\n{question}\n>>>\n\nThe clinician's reply:\n<<<\n{reply}\n>>>\n\n"
        "What does the reply tell this person to do now (not only if things change)? Pick the most urgent "
        "it advises for now:\n{labels}\n"
        "Answer with one JSON object with the keys disposition (one of {names}), safety_net (true when the "
        "reply also says when to seek care if things change or get worse, else false) and quote (the exact "
        'words of the reply that give this advice; empty only for none). The shape: '
        '{{"disposition": "<label>", "safety_net": <true or false>, "quote": "<words of the reply>"}}'),
    "statement": (
        "Source note:\n<<<\n{source}\n>>>\n\nA document written from it:\n<<<\n{reply}\n>>>\n\n"
        "Statement from the document: {subject}\n\n"
        "Label the statement: supported (the source says it and it is still current), stale (the source "
        "says it was true before but it no longer is, e.g. a stopped drug or a resolved problem written as "
        "current) or invented (the source does not say it). Answer with one JSON object with the keys label "
        "(supported, stale or invented) and quote (the statement's exact words in the document). The shape: "
        '{{"label": "<label>", "quote": "<words of the statement>"}}'),
}

RETRY = ("Your answer could not be used: {error}. Answer again with only the JSON object, and copy any quote "
         "word for word from the reply.")

# The judge's reply is primed with the start of its JSON object, and ends at the object's closing brace
# (the schemas are flat: the first "}" closes a well-formed answer).
ANSWER_PREFIX = {"criterion": '{"met": ', "disposition": '{"disposition": "', "statement": '{"label": "'}
STOP = ("}",)

PROMPT_VERSION = hashlib.sha256("\n".join(
    [SYSTEM, *ASK.values(), *LABELS.values(), RETRY, *ANSWER_PREFIX.values(), *STOP]).encode()).hexdigest()[:16]


def messages(question: JudgeQuestion, asked: str, reply: str, system_prefix: str | None = None
             ) -> list[dict[str, str]]:
    """The first ask: system and user messages for one question about one reply to `asked`; the judge
    card's own system prompt, if it has one, goes before the judging instructions."""
    labels = "\n".join(f"- {name}: {meaning}" for name, meaning in LABELS.items())
    user = ASK[question.kind].format(question=asked.strip(), reply=reply.strip(), subject=question.subject,
                                     source=(question.source or "").strip(), labels=labels,
                                     names=", ".join(LABELS))
    system = "\n\n".join(s for s in (system_prefix, SYSTEM) if s)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def retry(previous: list[dict[str, str]], answer: str, error: str) -> list[dict[str, str]]:
    """The conversation so far, the judge's unusable answer, and the request to answer again."""
    return previous + [{"role": "assistant", "content": answer},
                       {"role": "user", "content": RETRY.format(error=error)}]
