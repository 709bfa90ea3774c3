"""Language of a ticket, offline: py3langid (a kept fork of langid.py whose model ships in its wheel).

Chosen over lingua-language-detector after measuring both on tests/data/ai/language.csv (120 short
ticket lines, 10 languages, restricted to the same 23 candidates): lingua 119/120 right but 5-14 s to
load its models on this machine; py3langid 118/120 in ~1 s and ~25 µs per text. The candidates are
restricted to the languages a desk expects, which is what makes short texts reliable.
"""

from __future__ import annotations

import functools

from helpdesk.ai.result import Suggestion
from helpdesk.core.errors import ConfigError

# ISO 639-1 codes: the languages of Europe's and the world's larger desks that py3langid knows.
DEFAULT_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "no", "fi", "cs", "tr", "ru",
                     "uk", "hu", "ro", "el", "ja", "zh", "ar", "ko")
HIGH, MEDIUM = 0.9, 0.6


@functools.lru_cache(maxsize=4)
def _identifier(languages: tuple[str, ...]):
    # Lazy: py3langid loads numpy and unpacks its model (~1 s); only language identification needs it.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    unknown = sorted(set(languages) - set(identifier.labels))
    if unknown:
        raise ConfigError(f"language identification does not know {', '.join(unknown)}: use ISO 639-1 codes")
    identifier.set_languages(list(languages))
    return identifier


def identify(text: str, languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> Suggestion | None:
    """The language of `text` among `languages`, or None for a text without letters."""
    if not any(c.isalpha() for c in text or ""):
        return None
    code, probability = _identifier(tuple(languages)).classify(text)
    level = "high" if probability >= HIGH else "medium" if probability >= MEDIUM else "low"
    return Suggestion(value=code, confidence=float(probability), level=level, source="offline")
