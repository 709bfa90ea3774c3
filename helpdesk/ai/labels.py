"""The fixed label sets of AI suggestions, and the confidence levels."""

from __future__ import annotations

from helpdesk.core.errors import InvalidInput
from helpdesk.core.vocabulary import CONFIDENCE_LEVELS as LEVELS
from helpdesk.core.vocabulary import PRIORITIES, SENTIMENTS  # noqa: F401 - the label sets, in one place

SOURCES = ("llm", "offline", "rule")

# The fields a classification suggests; language is identified offline, never asked of the model.
FIELDS = ("category", "priority", "sentiment", "language")


def level_rank(level: str) -> int:
    """0 for low, 1 for medium, 2 for high: levels compare by rank."""
    return LEVELS.index(level)


def at_least(level: str, minimum: str) -> bool:
    """True when `level` reaches `minimum` (e.g. high reaches medium)."""
    return level_rank(level) >= level_rank(minimum)


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise InvalidInput(f"confidence level must be one of {', '.join(LEVELS)}, not {level!r}")
    return level
