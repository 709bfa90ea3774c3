"""AI assistance as user actions: classify, train, evaluate, similar solved tickets, summary, draft.

Never in the way: the model is asked outside every write transaction (the ticket is read, the model
answers, then one short unit of work records and applies the suggestions), and intake only queues its
new tickets (`classify_soon`, run after the intake's commit) for a background thread of this process;
a ticket the process could not get to (it ended first) is queued again by `classify_pending`, a
daemon step that waits for nothing either. A process about to end gives its queue a bounded time
(`settle`). Ollama when it answers, else the classifier trained on the desk's history: every failure
is a note, never an error of the action.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
import weakref
from dataclasses import dataclass, field

from helpdesk.ai import classify as classify_mod, language, sentiment
from helpdesk.ai.labels import at_least
from helpdesk.ai.ollama_client import OllamaAssistant
from helpdesk.core.errors import HelpdeskError, InvalidInput
from helpdesk.domain import suggestions, tickets
from helpdesk.services.work import current, unit
from helpdesk.store import ai_queries

log = logging.getLogger("helpdesk.ai")
TRAIN_KINDS = ("category", "priority")
OFFLINE_EMBEDDINGS = "offline"  # the model name vectors from wordllama are stored under
TEXT_WEIGHT = 0.5  # full-text relevance (0..1) blended with cosine similarity in similar-ticket ranking
EXIT_WAIT = 30.0  # seconds a process about to end (`mail fetch`, `daemon --once`) gives its queued tickets
# Seconds without newly queued tickets before the background thread classifies: a burst of intake (a
# mail fetch, a bulk create) runs alone, not sharing the interpreter with classification beside it.
QUIET = 0.3


# ---------------------------------------------------------------- set-up from [ai]


def assistant(cfg) -> OllamaAssistant | None:
    """The Ollama client `[ai]` describes, or None when the desk uses the offline classifier only."""
    ai = cfg.ai
    if not ai.use_ollama:
        return None
    return OllamaAssistant(ai.ollama_host, ai.model, embed_model=ai.embed_model, connect_timeout=ai.connect_timeout,
                           read_timeout=ai.read_timeout, num_ctx=ai.num_ctx, keep_alive=ai.keep_alive)


def categories(cfg) -> tuple[str, ...]:
    return cfg.ai.categories or tuple(t.name for t in cfg.types)


_models_lock = threading.Lock()
_models: dict[tuple[int, str], tuple[int, object]] = {}  # (id(db), kind) -> (version, OfflineModel)


def offline_model(desk, kind: str):
    """(the newest trained classifier of `kind` or None, its version label); loaded once per version."""
    from helpdesk.ai.offline import OfflineModel  # lazy: numpy/scikit-learn only where a model is used

    stored = suggestions.stored_model(kind)
    if stored is None:
        return None, ""
    version, data, _info, _texts = stored
    key = (id(desk.db), kind)
    with _models_lock:
        cached = _models.get(key)
        if cached is None or cached[0] != version:
            cached = _models[key] = (version, OfflineModel.from_bytes(data))
    return cached[1], f"offline-{kind}-v{version}"


# ---------------------------------------------------------------- classify


@dataclass
class TicketClassification:
    number: int
    classification: object  # ai.result.Classification
    suggestions: list = field(default_factory=list)  # SuggestionView, as stored
    applied: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        doc = {"ticket": self.number}
        doc.update(self.classification.to_dict())
        doc["stored"] = [s.to_dict() for s in self.suggestions]
        doc["applied"] = list(self.applied)
        return doc


def classify_text(desk, text: str):
    """Suggestions for a text that is no ticket (`ai classify --text -`): nothing is stored."""
    if not text.strip():
        raise InvalidInput("no text to classify")
    return _classify(desk, text)[0]


def _classify(desk, text: str):
    if current(desk) is not None or desk.db.in_transaction():
        # The model can take read_timeout seconds: never while holding the database's write lock.
        raise RuntimeError("AI classification must not run inside a write transaction")
    category_model, category_version = offline_model(desk, "category")
    priority_model, priority_version = offline_model(desk, "priority")
    model = assistant(desk.config)
    try:
        found = classify_mod.classify_text(text, categories=categories(desk.config), assistant=model,
                                           category_model=category_model, priority_model=priority_model,
                                           minimum_level=desk.config.ai.minimum_level)
    finally:
        if model is not None:
            model.close()
    versions = {"category": category_version, "priority": priority_version,
                "llm": f"ollama:{desk.config.ai.model}" if model is not None else ""}
    return found, versions


def classify_ticket(desk, number: int, *, apply: bool = True, only_new: bool = False) -> TicketClassification | None:
    """Classify ticket `number`, store the suggestions and (with `apply`) apply what `[ai]` allows. With
    `only_new` (queued work), a ticket another process classified first is left alone: None."""
    if only_new and ai_queries.classified_numbers([number]):
        return None
    view = tickets.get(desk, number)
    text = f"{view.title}\n{view.description}".strip()
    found, versions = _classify(desk, text)
    fields = {name: (s.to_dict() if s is not None else None) for name, s in
              (("category", found.category), ("priority", found.priority), ("sentiment", found.sentiment),
               ("language", found.language))}
    policy = desk.config.ai
    with unit(desk) as work:
        if only_new and ai_queries.classified_numbers([number]):  # done meanwhile (the model took a while)
            return None
        stored = suggestions.record(desk, number, fields, model_versions=versions, injection=found.injection.to_dict())
        applied = suggestions.apply_policy(desk, number, fields=policy.apply, level=policy.apply_level) if apply else []
        if applied:
            stored = suggestions.current(number)
        work.changed(number)
    return TicketClassification(number, found, stored, applied)


def suggestions_of(desk, number: int) -> list:
    """The ticket's suggestions in force (for the detail screen)."""
    tickets.fetch(number)
    return suggestions.current(number)


def decide(desk, number: int, kind: str, value: str | None = None, *, expected_version: int | None = None):
    """An agent accepts a suggestion or changes it to `value` (training data for the next model);
    `expected_version`: the ticket's as the agent saw it, refused as stale if it moved."""
    with unit(desk) as work:
        view = suggestions.decide(desk, number, kind, value, expected_version=expected_version)
        work.changed(number)
    return view


class _Background:
    """One worker thread per process classifying queued tickets after their intake committed."""

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.queued: set[tuple[int, int]] = set()  # (id(desk.db), number) waiting or in work: never twice
        self.last_put = 0.0  # time.monotonic() of the last ticket queued

    def put(self, desk, numbers) -> list[int]:
        """Queue the numbers not queued already; returns those."""
        added = []
        with self.lock:  # the worker decides to end under this lock too: no job is left without one
            for number in numbers:
                key = (id(desk.db), number)
                if key in self.queued:
                    continue
                self.queued.add(key)
                self.jobs.put((desk, number))
                added.append(number)
            self.last_put = time.monotonic()
            if added and self.thread is None:
                # A daemon thread: a process that ends leaves its backlog to `classify_pending`.
                self.thread = threading.Thread(target=self.run, name="helpdesk-ai", daemon=True)
                self.thread.start()
        return added

    def run(self) -> None:
        while True:
            try:
                desk, number = self.jobs.get(timeout=2)
            except queue.Empty:
                with self.lock:
                    if self.jobs.empty():
                        self.thread = None
                        return
                continue
            while (rest := self.last_put + QUIET - time.monotonic()) > 0:
                time.sleep(rest)  # intake is still busy queueing: let it finish first
            try:
                classify_ticket(desk, number, only_new=True)
            except Exception as exc:  # a ticket that cannot be classified must not stop the others
                log.warning("AI classification of ticket #%s failed: %s", number, exc)
            finally:
                with self.lock:
                    self.queued.discard((id(desk.db), number))
                self.jobs.task_done()
                try:
                    desk.db.close()  # this thread's connection only
                except Exception:
                    pass

    def wait(self, timeout: float) -> bool:
        """Whether the queue emptied within `timeout` seconds (tests, and an orderly exit)."""
        end = time.monotonic() + timeout
        while self.jobs.unfinished_tasks:
            if time.monotonic() > end:
                return False
            time.sleep(0.02)
        return True

    def drop_waiting(self) -> list[int]:
        """Take the jobs not started yet off the queue (a process about to end: `classify_pending` of a
        later daemon step queues them again)."""
        dropped = []
        with self.lock:
            while True:
                try:
                    desk, number = self.jobs.get_nowait()
                except queue.Empty:
                    return dropped
                self.queued.discard((id(desk.db), number))
                self.jobs.task_done()
                dropped.append(number)


_background = _Background()


def classify_soon(desk, numbers) -> list[int]:
    """Queue tickets for classification on the background thread (nothing when `[ai]` is off); a ticket
    queued already is not queued twice. Called after an intake's commit: it returns at once, whatever
    the model does. Returns the numbers queued."""
    numbers = [n for n in numbers if n is not None]
    if desk.config.ai.enabled and numbers:
        return _background.put(desk.acting_as(suggestions.SYSTEM_AI), numbers)
    return []


def after_intake(work, numbers) -> None:
    """Register `classify_soon` for these tickets to run after `work` commits (services' intakes)."""
    desk = work.desk
    if desk.config.ai.enabled:
        chosen = list(numbers)
        work.after_commit(lambda: classify_soon(desk, chosen))


def wait_idle(timeout: float = 30.0) -> bool:
    return _background.wait(timeout)


@dataclass
class Settled:
    """What a process about to end got done of its tickets' classification."""

    classified: list[int] = field(default_factory=list)
    left: list[int] = field(default_factory=list)  # for the daemon's `classify_pending` (or `ai classify ID`)
    waited: float = 0.0


def settle(desk, numbers=None, seconds: float = EXIT_WAIT) -> Settled:
    """For a process about to end (`mail fetch`, `daemon --once`): give the background queue up to
    `seconds`, then take off it what has not started; which of `numbers` (default: what this process
    has queued for the desk) are classified and which are left. A ticket in work when time is up ends
    with the process (its write is one transaction)."""
    if numbers is None:
        with _background.lock:
            numbers = sorted(n for db, n in _background.queued if db == id(desk.db))
    numbers = list(numbers)
    started = time.monotonic()
    if desk.config.ai.enabled and numbers:
        _background.wait(max(0.0, seconds))
        _background.drop_waiting()
    done = ai_queries.classified_numbers(numbers) if desk.config.ai.enabled else set()
    return Settled([n for n in numbers if n in done], [n for n in numbers if n not in done],
                   round(time.monotonic() - started, 2))


def classify_pending(desk, limit: int = 100) -> list[int]:
    """A daemon step: queue open tickets never classified (those whose intake's process ended first,
    mail fetched elsewhere) for the background thread, as intake does; returns the numbers queued.
    It waits for nothing: a slow model never holds up the daemon's mail and delivery."""
    if not desk.config.ai.enabled:
        return []
    return classify_soon(desk, ai_queries.unclassified_new_tickets(limit))


# ---------------------------------------------------------------- train and evaluate


def train(desk, kinds: tuple[str, ...] = TRAIN_KINDS) -> dict:
    """Train the category and priority classifiers on the desk's labelled history and store them as new
    versions; a kind with too little history says so and keeps its previous model (if any)."""
    from helpdesk.ai import offline  # lazy: scikit-learn only for training

    report: dict = {}
    for kind in kinds:
        rows = suggestions.training_rows(kind)
        try:
            model = offline.train(rows)
        except offline.NotEnoughHistory as exc:
            report[kind] = {"trained": False, "texts": len(rows), "reason": str(exc)}
            continue
        info = {"labels": model.labels, "feature_set": model.feature_set,
                "feature_set_accuracy": model.info.get("feature_set_accuracy"),
                "skipped_labels": model.info.get("skipped_labels")}
        with unit(desk):
            version = suggestions.save_model(desk, kind, model.to_bytes(), info, len(rows))
        report[kind] = {"trained": True, "texts": len(rows), "version": version, **info}
    return report


def retrain_if_due(desk) -> dict | None:
    """A daemon step: train again when `[ai] retrain_after` labelled tickets arrived since the last
    model (or there is none yet and that many exist); None when not due."""
    if not desk.config.ai.enabled:
        return None
    from helpdesk.ai.offline import NotEnoughHistory, check_history  # lazy: see train

    due = []
    for kind in TRAIN_KINDS:
        stored = suggestions.stored_model(kind)
        trained = stored[3] if stored else 0
        rows = suggestions.training_rows(kind)
        if len(rows) - trained < desk.config.ai.retrain_after:
            continue
        try:
            check_history(rows)  # a kind that cannot be trained yet is not due (no attempt every step)
        except NotEnoughHistory:
            continue
        due.append(kind)
    return train(desk, tuple(due)) if due else None


def evaluate_files(train_csv, test_csv, *, minimum_level: str = "medium") -> dict:
    """`ai eval`: the offline classifier trained on one labelled CSV and scored on another, next to the
    baseline trained in the same run."""
    from helpdesk.ai import evaluation, labelled  # lazy: scikit-learn only for evaluation
    from helpdesk.ai.labels import check_level

    check_level(minimum_level)
    return evaluation.evaluate(labelled.read_labelled_csv(train_csv), labelled.read_labelled_csv(test_csv),
                               minimum_level=minimum_level)


# ---------------------------------------------------------------- similar solved tickets


def _texts(numbers) -> dict[int, str]:
    return {n: f"{t}\n{d}".strip() for n, (t, d) in ai_queries.ticket_texts(numbers).items()}


def similar(desk, number: int, k: int = 5) -> list[dict]:
    """The resolved or closed tickets most like ticket `number`, best first, with their resolution (the
    last public reply). Offline vectors, always there (missing ones are computed and stored first),
    averaged with Ollama's `/api/embed` vectors when it answers, then blended with full-text relevance."""
    from helpdesk.ai.embeddings import OFFLINE_DIM, embed_offline, to_bytes  # lazy: numpy and the vectors

    view = tickets.get(desk, number)
    while True:
        missing = ai_queries.solved_without_vector(OFFLINE_EMBEDDINGS, 2000)
        if not missing:
            break
        texts = _texts(missing)
        vectors = embed_offline([texts.get(n, "") for n in missing])
        with unit(desk):
            ai_queries.save_vectors(OFFLINE_EMBEDDINGS, OFFLINE_DIM,
                                    [(n, to_bytes(v)) for n, v in zip(missing, vectors)])
    index = solved_index(desk, OFFLINE_EMBEDDINGS, OFFLINE_DIM)
    if index is None:
        return []
    text = f"{view.title}\n{view.description}".strip()
    query = embed_offline([text])[0]
    # Candidates by meaning, re-ranked with full-text relevance: shared rare words (an error code, a
    # product name) count for more than the embedding's average of common words can show.
    candidates = index.search(query, max(k * 10, 50), exclude={number})
    relevance = ai_queries.text_relevance(text.split())
    served = _ollama_similarity(desk, text, number, max(k * 10, 50))
    scored = sorted(((_meaning(c.key, c.score, served) + TEXT_WEIGHT * relevance.get(c.key, 0.0)) / (1 + TEXT_WEIGHT),
                     c.key) for c in candidates if c.score > 0)
    best = [(score, key) for score, key in reversed(scored)][:k]
    numbers = [key for _, key in best]
    texts = ai_queries.ticket_texts(numbers)
    replies = ai_queries.last_public_reply(numbers)
    return [{"ticket": key, "score": round(score, 3), "title": texts.get(key, ("", ""))[0],
             "resolution": replies.get(key, "")} for score, key in best]


# database -> {(model, dim): (state, index)}; weak: a closed and dropped desk takes its indexes along
_indexes: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def solved_index(desk, model: str, dim: int):
    """The VectorIndex of the solved tickets' vectors of `model` (None when there are none), kept per
    process while the stored vectors do not change: built from 1,000,000 stored vectors it takes seconds,
    a search in it a tenth of one (bench/ai_bench.py)."""
    from helpdesk.ai.similar import VectorIndex  # lazy: see similar

    state = ai_queries.solved_vectors_state(model, dim)
    with _models_lock:
        kept = _indexes.get(desk.db, {}).get((model, dim))
    if kept is not None and kept[0] == state:
        return kept[1]
    index = None
    if kept is not None and kept[1] is not None and state[0] > kept[0][0]:
        # Tickets solved since: only their vectors are read and appended, when that accounts for the
        # whole change (nothing reopened, no vector replaced); anything else reads them all again.
        added = [(n, bytes(b)) for n, b in ai_queries.solved_vectors(model, dim, after_id=kept[0][1])]
        more = VectorIndex.from_blobs(added, dim) if added else None
        if more is not None and len(more) == state[0] - kept[0][0] and not kept[1].has_any(more.keys):
            index = kept[1].extended(more)
    if index is None:
        rows = [(n, bytes(b)) for n, b in ai_queries.solved_vectors(model, dim)]
        index = VectorIndex.from_blobs(rows, dim) if rows else None
    with _models_lock:
        _indexes.setdefault(desk.db, {})[(model, dim)] = (state, index)
    return index


OLLAMA_BACKFILL = 1000  # solved tickets embedded by Ollama per lookup: the first lookups fill the store


def _meaning(key: int, offline_score: float, served: dict[int, float]) -> float:
    """Similarity in meaning: the offline vectors' cosine, averaged with Ollama's where it has one."""
    return (offline_score + served[key]) / 2 if key in served else offline_score


def _ollama_similarity(desk, text: str, number: int, k: int) -> dict[int, float]:
    """Cosine similarity by Ollama's embedding model of the solved tickets nearest `text` ({} when
    Ollama is not used or fails: the offline vectors stand alone)."""
    from helpdesk.ai.embeddings import to_bytes  # lazy: see similar

    model = assistant(desk.config)
    if model is None:
        return {}
    name = f"ollama:{desk.config.ai.embed_model}"[:100]
    try:
        query = model.embed([text])[0]
        missing = ai_queries.solved_without_vector(name, OLLAMA_BACKFILL)
        if missing:
            texts = _texts(missing)
            vectors = model.embed([texts.get(n, "") for n in missing])
            with unit(desk):
                ai_queries.save_vectors(name, int(vectors.shape[1]), [(n, to_bytes(v)) for n, v in zip(missing, vectors)])
    except HelpdeskError as exc:
        log.info("similar tickets without Ollama's vectors: %s", exc)
        return {}
    finally:
        model.close()
    index = solved_index(desk, name, int(query.shape[0]))
    if index is None:
        return {}
    return {f.key: f.score for f in index.search(query, k, exclude={number})}


# ---------------------------------------------------------------- summary and draft


@dataclass
class Written:
    """A summary or a draft: text to show inert, where it came from, and why a source was not used."""

    kind: str
    text: str
    source: str  # llm | offline
    language: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text, "source": self.source, "language": self.language,
                "notes": list(self.notes), "sent": False}


def _conversation_text(view) -> str:
    parts = [f"Subject: {view.title}", view.description]
    for entry in view.conversation or []:
        parts.append(f"[{entry.kind}] {entry.body}")
    return "\n\n".join(p for p in parts if p)


def _ask_model(desk, instructions: str, material: str, what: str, notes: list[str]) -> str | None:
    from helpdesk.ai.ollama_client import write_text  # lazy: only summaries and drafts write text

    model = assistant(desk.config)
    if model is None:
        return None
    try:
        return write_text(model, instructions, material, what)
    except HelpdeskError as exc:
        notes.append(f"{exc}; written offline")
        return None
    finally:
        model.close()


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def summary(desk, number: int) -> Written:
    """Intent, what was tried, open questions and the customer's mood of ticket `number`."""
    view = tickets.get(desk, number, conversation=True)
    material = _conversation_text(view)
    notes: list[str] = []
    lang = language.identify(material)
    written = _ask_model(desk, "Summarise this helpdesk ticket for the agent in at most six short lines: the "
                               "customer's intent, what was tried, open questions, the customer's mood.",
                         material, "summary", notes)
    if written is not None:
        return Written("summary", written, "llm", lang and lang.value, notes)
    entries = view.conversation or []
    customer_text = " ".join([view.description] + [e.body for e in entries if e.kind == "inbound"])
    tried = [first_sentence(e.body) for e in entries if e.kind in ("reply", "note")]
    questions = [s.strip() for s in _SENTENCE.split(customer_text) if s.strip().endswith("?")]
    mood = sentiment.classify(customer_text or view.title)
    lines = [f"Intent: {view.title}",
             "Tried: " + ("; ".join(t for t in tried if t) if tried else "nothing yet"),
             "Open questions: " + (" ".join(questions[-3:]) if questions else "none asked"),
             f"Mood: {mood.value if mood else 'unknown'}"]
    return Written("summary", "\n".join(lines), "offline", lang and lang.value, notes)


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return _SENTENCE.split(text, 1)[0][:200] if text else ""


GREETINGS = {"en": ("Hello", "Best regards"), "de": ("Guten Tag", "Freundliche Grüße"),
             "fr": ("Bonjour", "Cordialement"), "es": ("Hola", "Saludos cordiales"),
             "it": ("Buongiorno", "Cordiali saluti"), "nl": ("Hallo", "Met vriendelijke groet"),
             "pt": ("Olá", "Com os melhores cumprimentos")}


def draft(desk, number: int, *, polish: str | None = None) -> Written:
    """A reply draft for ticket `number` in the customer's language, from the conversation and the most
    similar solved tickets; or, with `polish`, the agent's text made clearer. Never sent: a person sends."""
    view = tickets.get(desk, number, conversation=True)
    material = _conversation_text(view)
    lang = language.identify(material)
    code = lang.value if lang and lang.value in GREETINGS else "en"
    notes: list[str] = []
    if polish is not None:
        if not polish.strip():
            raise InvalidInput("no text to polish")
        written = _ask_model(desk, f"Rewrite the agent's reply below to be clear, friendly and correct, in the "
                                   f"language with code {code}. Keep every fact; add none. Answer with the reply only.",
                             polish, "polish", notes)
        return Written("draft", written or tidy(polish), "llm" if written else "offline", code, notes)
    try:
        neighbours = similar(desk, number, 3)
    except HelpdeskError as exc:
        neighbours = []
        notes.append(str(exc))
    known = "\n\n".join(f"Solved ticket #{n['ticket']} ({n['title']}): {n['resolution']}" for n in neighbours
                        if n["resolution"])
    written = _ask_model(desk, f"Draft the agent's reply to the customer in the language with code {code}, using "
                               f"what solved similar tickets where it fits. Answer with the reply only.",
                         material + ("\n\n" + known if known else ""), "draft", notes)
    if written is not None:
        return Written("draft", written, "llm", code, notes)
    hello, regards = GREETINGS[code]
    best = next((n for n in neighbours if n["resolution"]), None)
    body = best["resolution"] if best else f"[{view.title}]"
    return Written("draft", f"{hello},\n\n{body}\n\n{regards}", "offline", code, notes)


def tidy(text: str) -> str:
    """The offline polish: spacing, a capital first letter and a final full stop per paragraph."""
    out = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        line = " ".join(paragraph.split())
        line = re.sub(r"\s+([,.!?;:])", r"\1", line)
        if line:
            line = line[0].upper() + line[1:]
            if line[-1] not in ".!?:":
                line += "."
        out.append(line)
    return "\n\n".join(out)
