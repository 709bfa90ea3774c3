"""Words of the desk's vocabulary met in the configuration (a rule's priority, a macro's status),
checked by the one check `helpdesk.core.vocabulary` has for each, its refusal turned into a
ConfigError that says where in the file the word was."""

from __future__ import annotations

from collections.abc import Callable

from helpdesk.core.errors import ConfigError, InvalidInput


def checked(check: Callable[[str], str], value: object, where: str) -> str:
    """`check(value)` (e.g. `vocabulary.check_priority`), or ConfigError("config: WHERE: why")."""
    try:
        return check(value)  # type: ignore[arg-type]
    except InvalidInput as error:
        raise ConfigError(f"config: {where}: {error}") from None
