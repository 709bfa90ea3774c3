#!/usr/bin/env python
"""Score quote stripping on a directory of fixtures: how often the text a reply shows is the text expected.

    .venv/bin/python bench/quote_bench.py tests/quote_fixtures          # our own fixtures
    .venv/bin/python bench/quote_bench.py DIR --show-failures           # each miss: expected vs. got
    .venv/bin/python bench/quote_bench.py DIR --json

A fixture is a pair of files in DIR (sub-directories too):

    NAME.txt | NAME.html | NAME.eml     the reply as it arrived: a plain-text body, an HTML-only body,
                                        or a whole message (parsed as `helpdesk mail fetch` parses it)
    NAME.expected                       the text a person should see (UTF-8)

A case passes when the visible text equals the expected text with every run of whitespace (blank lines,
indentation, trailing spaces) counted as one space: what is shown is judged, not how it is wrapped. The
figures go to stdout; the exit status is 0 (a score is not a failure).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

INPUTS = (".txt", ".html", ".eml")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def visible(path: Path) -> str:
    from helpdesk.mail import parse, quotes

    data = path.read_bytes()
    if path.suffix == ".eml":
        return parse.parse(data).reply_text
    text = parse.decode_bytes(data, "utf-8")
    if path.suffix == ".html":
        return quotes.visible_text("", html=text)
    return quotes.visible_text(text)


def cases(root: Path) -> list[tuple[Path, Path]]:
    found = []
    for expected in sorted(root.rglob("*.expected")):
        inputs = [expected.with_suffix(ext) for ext in INPUTS if expected.with_suffix(ext).exists()]
        if len(inputs) == 1:
            found.append((inputs[0], expected))
        else:
            print(f"skipped {expected}: needs exactly one of {', '.join(INPUTS)} beside it", file=sys.stderr)
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("directory", type=Path, help="the fixtures: NAME.txt|.html|.eml with NAME.expected")
    ap.add_argument("--show-failures", action="store_true", help="print expected and got for each miss")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = ap.parse_args(argv)
    if not args.directory.is_dir():
        ap.error(f"{args.directory} is not a directory")
    found = cases(args.directory)
    if not found:
        ap.error(f"no fixtures in {args.directory} (NAME.expected beside NAME.txt, .html or .eml)")
    passed, failures, errors = 0, [], []
    started = time.perf_counter()
    for source, expected_path in found:
        expected = expected_path.read_text(encoding="utf-8")
        try:
            got = visible(source)
        except Exception as exc:  # a crash is a miss, counted and named
            errors.append({"case": str(source.relative_to(args.directory)), "error": f"{type(exc).__name__}: {exc}"})
            continue
        if normalise(got) == normalise(expected):
            passed += 1
        else:
            failures.append({"case": str(source.relative_to(args.directory)), "expected": expected.strip(),
                             "got": got.strip()})
    elapsed = time.perf_counter() - started
    by_kind: dict[str, list[int]] = {}
    for source, _ in found:
        by_kind.setdefault(source.suffix, [0, 0])[1] += 1
    missed = {f["case"] for f in failures} | {e["case"] for e in errors}
    for source, _ in found:
        if str(source.relative_to(args.directory)) not in missed:
            by_kind[source.suffix][0] += 1
    report = {"directory": str(args.directory), "cases": len(found), "passed": passed,
              "failed": len(failures), "errors": len(errors), "score": round(passed / len(found), 4),
              "by_input": {k: {"passed": v[0], "cases": v[1]} for k, v in sorted(by_kind.items())},
              "ms_per_case": round(elapsed * 1000 / len(found), 2)}
    if args.json:
        report["failures"] = failures
        report["crashes"] = errors
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"{args.directory}: {passed} of {len(found)} right ({100 * passed / len(found):.1f} %), "
          f"{len(failures)} wrong, {len(errors)} crashed; {report['ms_per_case']} ms a case")
    for kind, figures in report["by_input"].items():
        print(f"  {kind:6} {figures['passed']} of {figures['cases']}")
    for e in errors:
        print(f"CRASH {e['case']}: {e['error']}")
    if args.show_failures:
        for f in failures:
            print(f"\n--- {f['case']}\nexpected:\n{f['expected']}\ngot:\n{f['got']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.exit(0)
