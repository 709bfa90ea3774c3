"""One ticket text in, suggestions out: Ollama when it answers, the offline models when it does not.

Per field the first source whose suggestion reaches the offering level wins: the model (llm), then the
classifier trained on the desk's history (offline), then our rules (sentiment lexicon). Language is
always identified offline. A text that tries to instruct the model is flagged, and whatever the model
said about it is kept at level "low": shown to agents, never offered or applied on the model's word.
"""

from __future__ import annotations

from helpdesk.ai import injection, language, sentiment
from helpdesk.ai.labels import at_least, check_level, level_rank
from helpdesk.ai.ollama_client import CONFIDENCE
from helpdesk.ai.result import Classification, Suggestion
from helpdesk.core.errors import HelpdeskError
from helpdesk.core.sanitise import inert


def classify_text(text: str, *, categories: tuple[str, ...] = (), assistant=None, category_model=None,
                  priority_model=None, minimum_level: str = "medium",
                  languages: tuple[str, ...] = language.DEFAULT_LANGUAGES) -> Classification:
    """Suggestions for `text`. `assistant` is an OllamaAssistant or None; `category_model` and
    `priority_model` are trained OfflineModels or None; a field with nothing at `minimum_level` or above
    is None, and `notes` say why a source was not used."""
    check_level(minimum_level)
    notes: list[str] = []
    verdict = injection.detect(text)
    if verdict.flagged:
        notes.append("the text looks like an attempt to instruct the model: the model's labels are not offered")

    llm: dict[str, Suggestion] = {}
    if assistant is not None and categories:
        try:
            labels = assistant.classify(text, tuple(categories))
        except HelpdeskError as exc:
            notes.append(f"{exc}; using the offline classifier")
        else:
            level = "low" if verdict.flagged else labels.confidence
            confidence = CONFIDENCE[labels.confidence]
            llm = {"category": Suggestion(labels.category, confidence, level, "llm"),
                   "priority": Suggestion(labels.priority, min(confidence, CONFIDENCE["medium"]),
                                          min_level(level, "medium"), "llm"),
                   "sentiment": Suggestion(labels.sentiment, confidence, level, "llm")}
    elif assistant is not None:
        notes.append("no categories configured: the model was not asked")

    def first_offered(*candidates: Suggestion | None) -> Suggestion | None:
        return next((c for c in candidates if c is not None and at_least(c.level, minimum_level)), None)

    def offline(model, field: str) -> Suggestion | None:
        if model is None:
            if field not in llm or not at_least(llm[field].level, minimum_level):
                notes.append(f"no {field} suggestion: no offline classifier is trained for it yet")
            return None
        return model.suggest(text, minimum_level)

    category = first_offered(llm.get("category")) or offline(category_model, "category")
    priority = first_offered(llm.get("priority")) or offline(priority_model, "priority")
    mood = first_offered(llm.get("sentiment"), sentiment.classify(text))
    lang = first_offered(language.identify(text, tuple(languages)))
    return Classification(category=category, priority=priority, sentiment=mood, language=lang,
                          injection=verdict, notes=tuple(inert(n, layout=False) for n in notes))


def min_level(a: str, b: str) -> str:
    """The lower of two levels: the model's priority is never more than medium on its own word."""
    return a if level_rank(a) <= level_rank(b) else b
