"""What the AI suggests: plain dataclasses the desk stores and front ends show (values made inert there)."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpdesk.ai.labels import at_least


@dataclass(frozen=True)
class Suggestion:
    """One suggested value: `confidence` in 0..1, `level` low/medium/high, `source` llm/offline/rule."""

    value: str
    confidence: float
    level: str
    source: str

    def to_dict(self) -> dict:
        return {"value": self.value, "confidence": round(self.confidence, 3), "level": self.level,
                "source": self.source}


@dataclass(frozen=True)
class InjectionVerdict:
    """Whether a text looks like an attempt to instruct the model, and the signals that said so."""

    flagged: bool
    score: float
    signals: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"flagged": self.flagged, "score": round(self.score, 2), "signals": list(self.signals)}


@dataclass(frozen=True)
class Classification:
    """The suggestions for one text. A field is None when nothing reached the offering level; `notes`
    are one-line reasons (the model was unreachable, too little history, ...) for the agent or the log."""

    category: Suggestion | None = None
    priority: Suggestion | None = None
    sentiment: Suggestion | None = None
    language: Suggestion | None = None
    injection: InjectionVerdict = field(default_factory=lambda: InjectionVerdict(False, 0.0))
    notes: tuple[str, ...] = ()

    def offered(self, minimum: str) -> dict[str, Suggestion]:
        """The suggestions at or above the level `minimum`, by field."""
        found = {"category": self.category, "priority": self.priority, "sentiment": self.sentiment,
                 "language": self.language}
        return {name: s for name, s in found.items() if s is not None and at_least(s.level, minimum)}

    def to_dict(self) -> dict:
        return {"category": self.category and self.category.to_dict(),
                "priority": self.priority and self.priority.to_dict(),
                "sentiment": self.sentiment and self.sentiment.to_dict(),
                "language": self.language and self.language.to_dict(),
                "injection": self.injection.to_dict(), "notes": list(self.notes)}
