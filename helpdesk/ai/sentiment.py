"""Sentiment of a ticket text, offline: a lexicon of our own (English, German, French, Spanish, a few
Italian and Dutch words) with negation, intensifiers, softeners, exclamation marks and shouting.

A problem report is neutral ("the printer shows error 49"); the lexicon holds words of feeling and
judgement, not of faults. The cut points between the five classes were set on
tests/data/ai/sentiment.csv; a desk whose agents correct sentiment can train the offline classifier on
its own history instead. Source "rule".
"""

from __future__ import annotations

import re
import unicodedata

from helpdesk.ai.labels import SENTIMENTS
from helpdesk.ai.result import Suggestion

# Phrases first (matched on the normalised text, longest first), then single words and word stems.
PHRASES = {
    "thank you so much": 3.0, "thanks so much": 3.0, "thanks a million": 3.0, "many many thanks": 3.0,
    "thank you very much": 2.5, "thanks a lot": 2.2, "many thanks": 2.0, "made my day": 3.0,
    "above and beyond": 3.0, "blown away": 3.0, "you rock": 3.0, "guys rock": 3.0, "saved us": 2.0,
    "saved my": 2.0, "vielen herzlichen dank": 3.0, "vielen dank": 2.0, "merci infiniment": 3.0,
    "merci beaucoup": 2.0, "muchisimas gracias": 3.0, "muchas gracias": 2.0, "grazie mille": 2.5,
    "hartelijk dank": 2.0, "fed up": -3.0, "sick and tired": -3.0, "never again": -3.0, "a joke": -2.5,
    "are you kidding": -2.5, "not happy": -1.5, "not satisfied": -1.5, "not great": -1.2, "didn't help": -1.0,
    "did not help": -1.0, "didn't work either": -1.5, "losing patience": -2.0, "still waiting": -1.5,
    "no answer": -1.0, "no response": -1.0, "nobody answers": -1.5, "nobody replied": -1.5,
    "nobody cares": -2.0, "keine antwort": -1.5, "sans reponse": -1.5, "nadie me ayuda": -2.0,
    "keeps coming back": -1.0, "any other ideas": -0.8, "waste of time": -2.5, "wasted": -1.5,
    "hab ich satt": -3.0, "en a marre": -3.0,
}
WORDS = {
    # very positive
    "amazing": 3.0, "fantastic": 3.0, "brilliant": 3.0, "outstanding": 3.0, "excellent": 2.5, "wonderful": 3.0,
    "incredible": 3.0, "superb": 3.0, "awesome": 3.0, "thrilled": 3.0, "delighted": 3.0, "lifesaver": 3.0,
    "flawlessly": 2.5, "exceptional": 3.0, "magnificent": 3.0, "kudos": 2.5, "grateful": 2.0, "impressed": 2.5,
    "love": 2.0, "best": 2.0, "perfect": 2.0, "perfectly": 2.0, "heartfelt": 2.0, "rock": 1.0,
    "grossartig": 3.0, "hervorragend": 3.0, "perfekt": 2.0, "formidable": 3.0, "formidables": 3.0,
    "parfait": 2.0, "parfaitement": 2.0, "increible": 3.0, "increibles": 3.0, "perfecto": 2.0,
    "fantastico": 3.0, "geweldig": 3.0, "splendido": 3.0,
    # positive
    "thanks": 1.5, "thank": 1.5, "thx": 1.2, "danke": 1.5, "merci": 1.5, "gracias": 1.5, "grazie": 1.5,
    "bedankt": 1.5, "obrigado": 1.5, "great": 1.5, "good": 1.0, "nice": 1.0, "cool": 1.0, "glad": 1.2,
    "happy": 1.5, "pleased": 1.5, "appreciated": 1.5, "appreciate": 1.5, "helpful": 1.2, "smoothly": 1.0,
    "works": 0.5, "worked": 0.5, "solved": 0.7, "resolved": 0.5, "sorted": 0.5, "fixed": 0.5,
    "super": 1.5, "toll": 1.5, "prima": 1.2, "genial": 2.0, "bien": 0.5,
    # negative
    "unfortunately": -1.2, "sadly": -1.2, "leider": -1.2, "malheureusement": -1.2, "lamentablemente": -1.2,
    "purtroppo": -1.2, "helaas": -1.2, "disappointed": -1.5, "disappointing": -1.5, "frustrating": -1.5,
    "frustrated": -1.5, "annoying": -1.3, "annoyed": -1.3, "irritating": -1.3, "unhappy": -1.5, "poor": -1.0,
    "bad": -1.2, "confusing": -1.0, "clumsy": -1.0, "worrying": -1.0, "upset": -1.5, "embarrassing": -1.5,
    "hoping": -0.3, "still": -0.6, "again": -0.6, "late": -0.5, "wrong": -0.5, "slower": -0.5,
    "patience": -0.5, "persiste": -1.0, "immer": -0.2, "sigue": -0.5, "ärgerlich": -1.5, "argerlich": -1.5,
    # very negative
    "unacceptable": -3.0, "inacceptable": -3.0, "inakzeptabel": -3.0, "inadmissible": -3.0, "furious": -3.0,
    "livid": -3.0, "worst": -3.0, "terrible": -3.0, "horrible": -3.0, "awful": -3.0, "disaster": -3.0,
    "catastrophe": -3.0, "nightmare": -3.0, "useless": -2.5, "ridiculous": -2.5, "pathetic": -3.0,
    "incompetent": -3.0, "incompetence": -3.0, "outrageous": -3.0, "disgusting": -3.0, "shameful": -3.0,
    "scandal": -3.0, "hate": -2.5, "garbage": -2.5, "angry": -2.0, "frechheit": -3.0, "stinksauer": -3.0,
    "verguenza": -3.0, "vergüenza": -3.0, "skandal": -3.0, "katastrophe": -3.0, "schrecklich": -3.0,
    "nul": -2.0, "lamentable": -2.5, "demand": -1.0, "complaint": -1.0, "refund": -1.0, "escalate": -1.0,
    "cancel": -0.8, "failure": -1.0, "destroyed": -1.5, "ignore": -0.5,
}
NEGATIONS = {"not", "no", "never", "dont", "don't", "doesnt", "doesn't", "didnt", "didn't", "isnt", "isn't",
             "nicht", "kein", "keine", "pas", "jamais", "nunca", "non", "niet", "geen"}
INTENSIFIERS = {"very": 1.5, "so": 1.4, "extremely": 1.8, "absolutely": 1.6, "totally": 1.5, "really": 1.4,
                "completely": 1.6, "truly": 1.4, "incredibly": 1.6, "huge": 1.5, "sehr": 1.5, "total": 1.5,
                "absolut": 1.6, "tres": 1.5, "vraiment": 1.4, "muy": 1.5, "molto": 1.5, "zeer": 1.5,
                "heel": 1.5, "super": 1.3}
SOFTENERS = {"bit": 0.5, "little": 0.5, "slightly": 0.5, "somewhat": 0.6, "quite": 0.8, "etwas": 0.5,
             "peu": 0.5, "poco": 0.5}
# Cut points on the score, from very negative up (set on tests/data/ai/sentiment.csv).
CUTS = (-2.9, -0.6, 0.8, 3.8)
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


def score(text: str) -> tuple[float, int]:
    """The text's valence (negative below zero) and how many cues it holds."""
    raw_words = _WORD_RE.findall(text or "")
    norm = _normalise(text or "")
    total, cues = 0.0, 0
    for phrase, weight in sorted(PHRASES.items(), key=lambda item: -len(item[0])):
        pattern = r"\b" + re.escape(phrase) + r"\b"
        found = len(re.findall(pattern, norm))
        if found:
            total += weight * found
            cues += found
            norm = re.sub(pattern, " ", norm)
    words = _WORD_RE.findall(norm)
    for i, word in enumerate(words):
        weight = WORDS.get(word)
        if weight is None:
            continue
        before = words[max(0, i - 3):i]
        if any(w in NEGATIONS for w in before):
            weight = -weight * 0.6
        if i and words[i - 1] in INTENSIFIERS:
            weight *= INTENSIFIERS[words[i - 1]]
        if any(w in SOFTENERS for w in words[max(0, i - 2):i]):
            weight *= min(SOFTENERS[w] for w in words[max(0, i - 2):i] if w in SOFTENERS)
        total += weight
        cues += 1
    # Shouting and exclamation marks make a feeling stronger, never create one.
    shouted = sum(1 for w in raw_words if len(w) >= 4 and w.isupper())
    bangs = min((text or "").count("!"), 4)
    if total:
        total *= 1 + 0.12 * bangs + 0.25 * min(shouted, 2)
    return total, cues


def classify(text: str) -> Suggestion:
    """very_negative .. very_positive, with a confidence from the distance to the nearest cut point."""
    value, cues = score(text)
    index = sum(value > cut for cut in CUTS)
    distance = min(abs(value - cut) for cut in CUTS)
    if cues == 0:
        confidence = 0.6  # nothing of feeling in it: neutral, but a short text may hide it
    else:
        confidence = min(0.95, 0.5 + 0.2 * distance + 0.05 * min(cues, 4))
    level = "high" if confidence >= 0.8 else "medium" if confidence >= 0.6 else "low"
    return Suggestion(value=SENTIMENTS[index], confidence=confidence, level=level, source="rule")
