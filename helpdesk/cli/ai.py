"""`helpdesk ai`: classification, training, evaluation, similar solved tickets, summaries and drafts.
Whatever a model wrote is shown inert (it is text from outside, like the ticket it came from)."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

from pathlib import Path
from typing import Annotated, Optional

import typer

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import IfVersion, echo, emit, fail, open_desk, output_options, read_stdin_text
from helpdesk.core.errors import ExitCode

app = make_app()


def _number(value: str) -> int:
    from helpdesk.services.tickets import parse_number  # lazy: services load the store

    return parse_number(value)


def _lines(text: str) -> None:
    for line in text.splitlines() or [""]:
        echo(line)


def _suggestion_line(name: str, s: Optional[dict]) -> str:
    if not s:
        return f"{name:<10} -"
    return f"{name:<10} {s['value']}  ({s['level']}, {s['confidence']:.2f}, {s['source']})"


@app.command()
@output_options("json")
def classify(
    ticket: Annotated[Optional[str], typer.Argument(help="The ticket number (42 or #42).")] = None,
    text: Annotated[Optional[str], typer.Option("--text", help="Classify this text instead ('-': read stdin); "
                                                               "nothing is stored.")] = None,
    no_apply: Annotated[bool, typer.Option("--no-apply", help="Store the suggestions, apply none.")] = False,
    fmt: str = "text",
) -> None:
    """Category, priority, sentiment and language, each with its confidence, level and source (llm,
    offline, rule); for a ticket the suggestions are stored and what [ai] allows is applied.

    Example: helpdesk ai classify 42 --json
    """
    from helpdesk.services import ai  # lazy: services load the store

    if (ticket is None) == (text is None):
        fail("give a ticket number or --text (--text - reads stdin)", ExitCode.USAGE)
    with open_desk() as desk:
        if text is not None:
            doc = ai.classify_text(desk, read_stdin_text() if text == "-" else text).to_dict()
        else:
            doc = ai.classify_ticket(desk, _number(ticket), apply=not no_apply).to_dict()
    if fmt != "text":
        emit(doc, fmt)
        return
    for name in ("category", "priority", "sentiment", "language"):
        echo(_suggestion_line(name, doc[name]))
    if doc["injection"]["flagged"]:
        echo(f"warning: the text looks like an attempt to instruct the model ({', '.join(doc['injection']['signals'])})")
    for line in doc.get("applied", []):
        echo(f"applied: {line}")
    for note in doc["notes"]:
        echo(f"note: {note}")


@app.command()
@output_options("json")
def train(fmt: str = "text") -> None:
    """Train the offline classifiers (category from the ticket type, priority) on the desk's resolved
    tickets and agents' corrections; stored as new versions.

    Example: helpdesk ai train
    """
    from helpdesk.services import ai  # lazy: see classify

    with open_desk() as desk:
        report = ai.train(desk)
    if fmt != "text":
        emit(report, fmt)
        return
    for kind, done in report.items():
        if done["trained"]:
            echo(f"{kind}: version {done['version']} from {done['texts']} tickets, {len(done['labels'])} labels, "
                 f"features {done['feature_set']}")
        else:
            echo(f"{kind}: not trained: {done['reason']}")


@app.command("eval")
@output_options("json")
def eval_(
    test_csv: Annotated[Path, typer.Argument(help="Labelled test texts: CSV with columns text,label.")],
    train_csv: Annotated[Path, typer.Option("--train", help="Labelled training texts: CSV text,label.")],
    level: Annotated[str, typer.Option("--level", help="The offering level: low, medium or high.")] = "medium",
    fmt: str = "text",
) -> None:
    """Train on one labelled CSV, test on another: accuracy, macro-F1, per-label recall, accuracy and
    coverage per confidence level, and the same for a TF-IDF + logistic-regression baseline.

    Example: helpdesk ai eval --train train.csv test.csv --json
    """
    from helpdesk.services import ai  # lazy: see classify

    report = ai.evaluate_files(train_csv, test_csv, minimum_level=level)
    if fmt != "text":
        emit(report, fmt)
        return
    validated = ", ".join(f"{name} {accuracy:.3f}" for name, accuracy in report["feature_set_accuracy"].items())
    echo(f"trained on {report['train_texts']} texts, tested on {report['test_texts']}, "
         f"{len(report['labels'])} labels; features: {report['feature_set']} (validation accuracy: {validated})")

    def accuracy_line(figures: dict) -> str:
        low, high = figures["accuracy_95"]
        return f"accuracy {figures['accuracy']:.3f} (95 % interval {low:.3f}-{high:.3f})  macro-F1 {figures['macro_f1']:.3f}"

    echo(accuracy_line(report))
    base = report.get("baseline")
    if base:
        echo(f"baseline ({base['name']}, C={base['C']:g}): {accuracy_line(base)}")
    for name, figures in report["levels"].items():
        accuracy = "-" if figures["accuracy"] is None else f"{figures['accuracy']:.3f}"
        echo(f"level {name:<6} share {figures['share']:.3f}  accuracy {accuracy}")
    offered = report["offered"]
    accuracy = "-" if offered["accuracy"] is None else f"{offered['accuracy']:.3f}"
    echo(f"offered at {offered['minimum_level']} or above: coverage {offered['coverage']:.3f}  accuracy {accuracy}")
    for label, recall in report["recall"].items():
        echo(f"recall {label}: {recall:.3f}")


@app.command()
@output_options("json")
def similar(
    ticket: Annotated[str, typer.Argument(help="The ticket number.")],
    limit: Annotated[int, typer.Option("--limit", help="How many solved tickets.")] = 5,
    fmt: str = "text",
) -> None:
    """Resolved tickets most like this one, with their resolution.

    Example: helpdesk ai similar 42
    """
    from helpdesk.services import ai  # lazy: see classify

    if not 1 <= limit <= 100:
        fail("--limit must be between 1 and 100", ExitCode.USAGE)
    with open_desk() as desk:
        found = ai.similar(desk, _number(ticket), limit)
    if fmt != "text":
        emit(found, fmt)
        return
    if not found:
        echo("no similar solved tickets")
    for row in found:
        echo(f"#{row['ticket']}  {row['score']:.2f}  {row['title']}")
        if row["resolution"]:
            echo(f"    {row['resolution'][:300]}")


def _written(doc, fmt: str) -> None:
    if fmt != "text":
        emit(doc.to_dict(), fmt)
        return
    _lines(doc.text)
    for note in doc.notes:
        echo(f"note: {note}", err=True)


@app.command()
@output_options("json")
def summary(ticket: Annotated[str, typer.Argument(help="The ticket number.")], fmt: str = "text") -> None:
    """Intent, what was tried, open questions and the customer's mood.

    Example: helpdesk ai summary 42
    """
    from helpdesk.services import ai  # lazy: see classify

    with open_desk() as desk:
        doc = ai.summary(desk, _number(ticket))
    _written(doc, fmt)


@app.command()
@output_options("json")
def draft(
    ticket: Annotated[str, typer.Argument(help="The ticket number.")],
    polish: Annotated[Optional[str], typer.Option("--polish", help="Polish this reply text instead ('-': stdin).")] = None,
    fmt: str = "text",
) -> None:
    """A reply draft in the customer's language (never sent: send it with `ticket reply`).

    Example: helpdesk ai draft 42 --polish "we have reset you password"
    """
    from helpdesk.services import ai  # lazy: see classify

    with open_desk() as desk:
        doc = ai.draft(desk, _number(ticket), polish=read_stdin_text() if polish == "-" else polish)
    if fmt == "text":
        echo("draft (not sent):", err=True)
    _written(doc, fmt)


@app.command("suggestions")
@output_options("json")
def suggestions_(ticket: Annotated[str, typer.Argument(help="The ticket number.")], fmt: str = "text") -> None:
    """The ticket's suggestions in force and what became of them (offered, applied, accepted, changed).

    Example: helpdesk ai suggestions 42
    """
    from helpdesk.services import ai  # lazy: see classify

    with open_desk() as desk:
        found = [s.to_dict() for s in ai.suggestions_of(desk, _number(ticket))]
    if fmt != "text":
        emit(found, fmt)
        return
    if not found:
        echo("no suggestions (helpdesk ai classify ID makes them)")
    for s in found:
        decided = f" -> {s['final_value']} by {s['decided_by']}" if s["status"] in ("accepted", "changed") else ""
        echo(f"{s['kind']:<10} {s['value']}  ({s['level']}, {s['confidence']:.2f}, {s['source']})  {s['status']}{decided}")


def _decide(ticket: str, kind: str, value: Optional[str], if_version: Optional[int], fmt: str) -> None:
    from helpdesk.services import ai  # lazy: see classify

    with open_desk() as desk:
        done = ai.decide(desk, _number(ticket), kind, value, expected_version=if_version).to_dict()
    if fmt != "text":
        emit(done, fmt)
        return
    echo(f"#{done['ticket']} {done['kind']}: {done['status']} {done['final_value']}")


KindArg = Annotated[str, typer.Argument(help="category, priority, sentiment or language.")]


@app.command()
@output_options("json")
def accept(ticket: Annotated[str, typer.Argument(help="The ticket number.")], kind: KindArg,
           if_version: IfVersion = None, fmt: str = "text") -> None:
    """Accept a suggestion (category and priority then apply to the ticket).

    Example: helpdesk ai accept 42 category
    """
    _decide(ticket, kind, None, if_version, fmt)


@app.command()
@output_options("json")
def change(ticket: Annotated[str, typer.Argument(help="The ticket number.")], kind: KindArg,
           value: Annotated[str, typer.Argument(help="The right value.")], if_version: IfVersion = None,
           fmt: str = "text") -> None:
    """Correct a suggestion: the ticket takes your value, and the next `ai train` learns from it.

    Example: helpdesk ai change 42 category access
    """
    _decide(ticket, kind, value, if_version, fmt)
