"""Every key binding of the TUI, with an id and a description: the catalogue the widgets take their
BINDINGS from, the help screen lists and `[tui.keys]` remaps by id (`sort = "o"`,
`cursor_down = "down,j"`).

A remap is checked before the app starts: an unknown id, a key Textual does not know or a key given
to two bindings that are active together is a `SettingsError` saying which. Textual's own keymap
would drop a clashing binding with only a notification.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import Keys, _character_to_key, format_key

from helpdesk.tui.errors import SettingsError

# Where a binding is active, and which scopes are active together: app bindings work on the queue;
# the help screen is modal, so only its own bindings work there. Two bindings clash when they share a
# key and their scopes are active together.
APP = "app"
QUEUE = "queue"
HELP = "help"
DETAIL = "detail"
DASHBOARD = "dashboard"
ACTIVE_TOGETHER = {APP: {APP, QUEUE, DETAIL, DASHBOARD}, QUEUE: {APP, QUEUE}, DETAIL: {APP, DETAIL},
                   DASHBOARD: {APP, DASHBOARD}, HELP: {HELP}}
SCOPE_TITLES = {APP: "Everywhere", QUEUE: "Queue", DETAIL: "Ticket", DASHBOARD: "Dashboard", HELP: "Help screen"}


@dataclass(frozen=True)
class KeySpec:
    id: str
    keys: str  # Textual key names, comma-separated
    action: str
    description: str
    scope: str
    footer: str = ""  # the short label that shows the binding in the footer ("": not shown)

    def binding(self) -> Binding:
        return Binding(self.keys, self.action, self.footer or self.description, id=self.id, show=bool(self.footer),
                       tooltip=self.description, priority=self.id == "quit")


CATALOGUE: tuple[KeySpec, ...] = (
    KeySpec("quit", "ctrl+q", "quit", "Quit", APP, footer="Quit"),
    KeySpec("help", "f1,question_mark", "help", "Show the key bindings", APP, footer="Keys"),
    KeySpec("palette", "ctrl+p", "command_palette", "Open the command palette", APP),
    KeySpec("theme", "ctrl+t", "toggle_theme", "Switch between the light and the dark theme", APP),
    KeySpec("cursor_up", "up,k", "cursor_up", "Move to the row above", QUEUE),
    KeySpec("cursor_down", "down,j", "cursor_down", "Move to the row below", QUEUE),
    KeySpec("page_up", "pageup", "page_up", "Go one page up", QUEUE),
    KeySpec("page_down", "pagedown", "page_down", "Go one page down", QUEUE),
    KeySpec("first_row", "home,g", "first_row", "Go to the first row", QUEUE),
    KeySpec("last_row", "end,G", "last_row", "Go to the last row", QUEUE),
    KeySpec("open", "enter", "open", "Open the ticket under the cursor", QUEUE, footer="Open"),
    KeySpec("select", "space", "toggle_select", "Select or unselect the row under the cursor", QUEUE,
            footer="Select"),
    KeySpec("select_up", "shift+up", "select_up", "Extend the selection upwards", QUEUE),
    KeySpec("select_down", "shift+down", "select_down", "Extend the selection downwards", QUEUE),
    KeySpec("clear_selection", "escape", "clear_selection", "Unselect every row", QUEUE),
    KeySpec("sort", "s", "sort_next", "Sort by the next column", QUEUE, footer="Sort"),
    KeySpec("sort_reverse", "S", "sort_reverse", "Reverse the sort order", QUEUE),
    KeySpec("filter", "slash", "filter", "Filter the queue with a query", QUEUE, footer="Filter"),
    # `q` quits from the queue (INTERFACE.md); not app-wide, so it types a q in the filter and compose.
    KeySpec("quit_from_queue", "q", "app.quit", "Quit (from the queue)", QUEUE),
    # Bulk actions act on the selected rows (none selected: the row under the cursor).
    KeySpec("bulk_assign", "a", "bulk_assign", "Assign the selected tickets to an agent", QUEUE),
    KeySpec("bulk_status", "t", "bulk_status", "Change the status of the selected tickets", QUEUE),
    KeySpec("bulk_priority", "p", "bulk_priority", "Change the priority of the selected tickets", QUEUE),
    KeySpec("bulk_tag", "plus", "bulk_tag", "Add or remove tags on the selected tickets", QUEUE),
    KeySpec("bulk_merge", "M", "bulk_merge", "Merge the selected tickets into one of them", QUEUE),
    KeySpec("views", "f2", "toggle_views", "Show or hide the sidebar of views", APP),
    KeySpec("new_ticket", "ctrl+n", "new_ticket", "Create a ticket: choose its type, fill in its fields", APP),
    KeySpec("dashboard", "f3", "dashboard", "Open the dashboard of the desk's figures", APP),
    KeySpec("back", "escape,q", "back", "Back to the queue", DETAIL, footer="Back"),
    KeySpec("reply", "r", "reply", "Reply to the customer (queued in the outbox)", DETAIL, footer="Reply"),
    KeySpec("note", "n", "note", "Add an internal note", DETAIL, footer="Note"),
    KeySpec("assign", "a", "assign", "Assign to an agent", DETAIL, footer="Assign"),
    KeySpec("take", "c", "take", "Claim: assign to yourself", DETAIL, footer="Claim"),
    KeySpec("status", "s", "status", "Change the status", DETAIL, footer="Status"),
    KeySpec("priority", "p", "priority", "Change the priority", DETAIL, footer="Priority"),
    KeySpec("reload", "ctrl+r", "reload", "Read the ticket again", DETAIL),
    KeySpec("macro", "ctrl+o", "macro", "Apply a macro (a configured quick reply) by name", DETAIL, footer="Macro"),
    KeySpec("transfer", "t", "transfer", "Transfer to another agent or queue", DETAIL),
    KeySpec("return_to_queue", "u", "return_to_queue", "Return to the queue: unassigned, status new", DETAIL),
    KeySpec("tag", "g", "tag", "Add or remove tags", DETAIL),
    KeySpec("edit", "e", "edit", "Edit the title and the type's fields", DETAIL),
    KeySpec("merge", "M", "merge", "Merge into another ticket (confirmed first)", DETAIL),
    KeySpec("next_ticket", "right_square_bracket", "next_ticket", "Next ticket of the queue's view", DETAIL),
    KeySpec("previous_ticket", "left_square_bracket", "previous_ticket", "Previous ticket of the queue's view",
            DETAIL),
    KeySpec("save_attachment", "w", "save_attachment", "Save an attachment to a file", DETAIL),
    KeySpec("load_earlier", "o", "load_earlier", "Load older messages of a long conversation", DETAIL),
    KeySpec("ai_suggestions", "i", "ai_suggestions", "Accept or change the AI's suggestions", DETAIL),
    KeySpec("similar", "f", "similar", "Similar solved tickets and their resolution", DETAIL),
    KeySpec("draft", "d", "draft", "Draft a reply with AI (only you send it)", DETAIL),
    KeySpec("dashboard_back", "escape,q", "back", "Back to the queue", DASHBOARD, footer="Back"),
    KeySpec("dashboard_reload", "ctrl+r", "reload", "Count the figures again", DASHBOARD, footer="Refresh"),
    KeySpec("help_close", "escape,q,f1,question_mark", "close", "Close the help", HELP),
)
BY_ID = {spec.id: spec for spec in CATALOGUE}

# Keys Textual itself answers on every screen: taking them would silently break focus moves and
# Ctrl+C (copy / how-to-quit hint).
RESERVED = {"tab": "moving the focus", "shift+tab": "moving the focus", "ctrl+c": "copy"}
MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")
NAMED_KEYS = {k.value for k in Keys} | {"space", "enter", "backspace", "tab", "escape"}


def bindings(scope: str) -> list[Binding]:
    """The BINDINGS of a widget or screen: every catalogue entry of `scope`, with its default keys
    (the app's key map replaces them by id)."""
    return [spec.binding() for spec in CATALOGUE if spec.scope == scope]


def normal_key(key: str, *, where: str) -> str:
    """A key as Textual names it ('?' -> 'question_mark', 'Ctrl+R' -> 'ctrl+r'), or a SettingsError."""
    key = key.strip()
    if not key:
        raise SettingsError(f"{where}: an empty key name")
    if len(key) == 1:
        if not key.isprintable() or key.isspace():
            raise SettingsError(f"{where}: {key!r} is not a key (write 'space', 'tab', ...)")
        return _character_to_key(key)
    *modifiers, name = key.split("+")
    modifiers = [m.lower() for m in modifiers]
    bad = [m for m in modifiers if m not in MODIFIERS]
    if bad or not name:
        raise SettingsError(f"{where}: {key!r} is not a key (modifiers: {', '.join(MODIFIERS)})")
    if len(name) == 1:
        name = _character_to_key(name) if not modifiers else name.lower()
    else:
        name = name.lower()
        if name not in NAMED_KEYS and not _is_character_name(name):
            raise SettingsError(f"{where}: unknown key {key!r} (e.g. 'r', 'ctrl+r', 'f5', 'pagedown', "
                                "'question_mark')")
    return "+".join([*modifiers, name])


def _is_character_name(name: str) -> bool:
    """'question_mark', 'slash', 'full_stop': a printable character's name as Textual spells it."""
    spelled = {"slash": "solidus", "backslash": "reverse_solidus", "at": "commercial_at",
               "minus": "hyphen_minus", "plus": "plus_sign", "underscore": "low_line"}.get(name, name)
    try:
        return unicodedata.lookup(spelled.replace("_", " ").upper()).isprintable()
    except KeyError:
        return False


def resolve_keymap(overrides: Mapping[str, str]) -> dict[str, str]:
    """The key map of the app: every binding id to its keys, `overrides` (from `[tui.keys]`) replacing
    the defaults. Raises SettingsError for an unknown id, a bad key or a clash."""
    keymap = {spec.id: spec.keys for spec in CATALOGUE}
    for binding_id, keys in overrides.items():
        where = f"[tui.keys] {binding_id}"
        if binding_id not in BY_ID:
            raise SettingsError(f"[tui.keys]: no key binding has the id {binding_id!r} "
                                f"(ids: {', '.join(BY_ID)})")
        if not isinstance(keys, str):
            raise SettingsError(f"{where}: give the keys as a string, e.g. {binding_id} = \"x\" or \"x,ctrl+x\"")
        names = [normal_key(k, where=where) for k in keys.split(",")]
        keymap[binding_id] = ",".join(dict.fromkeys(names))
    _check_clashes(keymap)
    return keymap


def _check_clashes(keymap: Mapping[str, str]) -> None:
    holders: dict[str, list[str]] = {}  # key -> ids of the bindings that have it
    for binding_id, keys in keymap.items():
        scope = BY_ID[binding_id].scope
        for key in keys.split(","):
            key = normal_key(key, where=f"[tui.keys] {binding_id}")
            if key in RESERVED:
                raise SettingsError(f"[tui.keys] {binding_id}: {format_key(key)!r} is kept for "
                                    f"{RESERVED[key]}; choose another key")
            for other in holders.get(key, []):
                if other != binding_id and BY_ID[other].scope in ACTIVE_TOGETHER[scope]:
                    raise SettingsError(f"[tui.keys]: {format_key(key)!r} is given to both {other!r} and "
                                        f"{binding_id!r}; give one of them another key")
            holders.setdefault(key, []).append(binding_id)


def key_display(keys: str) -> str:
    """Keys as people read them: 'f1,question_mark' -> 'f1 ?'."""
    return " ".join(format_key(k) for k in keys.split(","))
