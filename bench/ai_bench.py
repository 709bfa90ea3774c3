#!/usr/bin/env python
"""Benchmark the offline AI: classification time per ticket, training time, similar-ticket lookup at
1,000,000 vectors, and the eval figures on our labelled sets (and on Banking77 if you have it).

    .venv/bin/python bench/ai_bench.py                               # everything on our own sets
    .venv/bin/python bench/ai_bench.py --banking77 /tmp/banking77    # + train.csv/test.csv of Banking77
    .venv/bin/python bench/ai_bench.py --vectors 200000 --train-texts 5000   # smaller, quicker

What it does (see bench/README.md):
 1. eval (helpdesk.ai.evaluation.evaluate) on tests/data/ai/it_tickets_{train,test}.csv: accuracy,
    macro-F1, per-level accuracy/coverage, the feature set chosen, and the TF-IDF + logistic-regression
    baseline of the same run; the same on Banking77 when its folder is given (never committed here);
    the injection detector, language identification and sentiment on their sets;
 2. training time for --train-texts (default 10,000) labelled tickets: our IT tickets, each one padded
    with words of other tickets of its group, host names and error codes, so the vocabulary grows as a
    real desk's does (the figure is about time, not accuracy); both feature sets validated, as `ai train`
    does;
 3. offline classification time per ticket: one text at a time through the model trained in 2;
 4. similar lookup: --vectors (default 1,000,000) random unit vectors of 256 float32 dimensions (the
    offline embedding size), --queries searches for the top 10 (p50 / p95), after the index is built;
 5. intake rate: --intake-tickets tickets created through the services (as every channel's intake is)
    on a fresh SQLite desk, with `[ai]` off, then on with a loopback Ollama stand-in answering in 5 s:
    classification runs after the commit, on a background thread, so the two rates should match.
Results go to the terminal and to bench/out/ai-<time>.{json,txt}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "bench", ROOT / "tests"):  # tests: the Ollama stand-in
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from desk_bench import code_state, log  # noqa: E402  (the desk benchmark's helpers)

DATA = ROOT / "tests" / "data" / "ai"
TARGETS = {"classify_ms": 5.0, "train_10k_s": 30.0, "similar_1m_ms": 100.0}


def eval_sets(args) -> dict:
    from helpdesk.ai.evaluation import evaluate
    from helpdesk.ai.labelled import read_labelled_csv

    out = {}
    sets = [("it_tickets", DATA / "it_tickets_train.csv", DATA / "it_tickets_test.csv")]
    if args.banking77:
        folder = Path(args.banking77)
        sets.append(("banking77", folder / "train.csv", folder / "test.csv"))
    for name, train_path, test_path in sets:
        log(f"eval on {name}")
        report = evaluate(read_labelled_csv(train_path), read_labelled_csv(test_path))
        out[name] = report
    return out


def detector_figures() -> dict:
    from helpdesk.ai import injection, language, sentiment
    from helpdesk.ai.labelled import read_labelled_csv

    rows = read_labelled_csv(DATA / "injection.csv")
    attacks = [t for t, label in rows if label == "injection"]
    benign = [t for t, label in rows if label == "benign"]
    lang = read_labelled_csv(DATA / "language.csv")
    started = time.perf_counter()
    language.identify("warm-up")
    lang_load = time.perf_counter() - started
    started = time.perf_counter()
    lang_right = sum(language.identify(t).value == label for t, label in lang)
    lang_ms = (time.perf_counter() - started) * 1000 / len(lang)

    def sentiment_accuracy(path: Path) -> float:
        pairs = read_labelled_csv(path)
        return round(sum(sentiment.classify(t).value == label for t, label in pairs) / len(pairs), 4)

    started = time.perf_counter()
    for t, _ in rows:
        injection.detect(t)
    injection_ms = (time.perf_counter() - started) * 1000 / len(rows)
    return {"injection": {"attacks": len(attacks), "flagged": sum(injection.detect(t).flagged for t in attacks),
                          "benign": len(benign), "false_flags": sum(injection.detect(t).flagged for t in benign),
                          "ms_per_text": round(injection_ms, 3)},
            "language": {"texts": len(lang), "right": lang_right, "load_s": round(lang_load, 2),
                         "ms_per_text": round(lang_ms, 3)},
            "sentiment": {"tuned_set_accuracy": sentiment_accuracy(DATA / "sentiment.csv"),
                          "holdout_accuracy": sentiment_accuracy(DATA / "sentiment_holdout.csv")}}


def padded_tickets(count: int, seed: int) -> list[tuple[str, str]]:
    """`count` labelled tickets from our IT set, each padded with words of other tickets of its group,
    hosts and codes (a growing vocabulary, realistic lengths)."""
    from helpdesk.ai.labelled import read_labelled_csv

    rng = random.Random(seed)
    rows = read_labelled_csv(DATA / "it_tickets_train.csv") + read_labelled_csv(DATA / "it_tickets_test.csv")
    by_label: dict[str, list[str]] = {}
    for text, label in rows:
        by_label.setdefault(label, []).append(text)
    out = []
    for i in range(count):
        text, label = rows[i % len(rows)]
        words = rng.choice(by_label[label]).split()
        extra = " ".join(rng.sample(words, min(len(words), rng.randint(3, 10))))
        codes = f"host {rng.choice('abcdefgh')}{rng.randint(1, 400):03d}-srv error 0x{rng.randint(0, 65535):04X}"
        out.append((f"{text}. {extra}. {codes}" if rng.random() < 0.7 else text, label))
    rng.shuffle(out)
    return out


def training_and_classification(args) -> dict:
    from helpdesk.ai.offline import train

    rows = padded_tickets(args.train_texts, args.seed)
    log(f"training on {len(rows):,} tickets (both feature sets validated)")
    started = time.perf_counter()
    model = train(rows)
    train_s = time.perf_counter() - started
    data = model.to_bytes()

    texts = [t for t, _ in padded_tickets(args.classify_texts + 50, args.seed + 1)]
    for text in texts[:50]:  # warm-up: model arrays, vectorizer, embedding weights
        model.predict([text])
    times = []
    for text in texts[50:]:
        started = time.perf_counter()
        model.predict([text])
        times.append((time.perf_counter() - started) * 1000)
    return {"train_texts": len(rows), "train_s": round(train_s, 2), "feature_set": model.feature_set,
            "feature_set_accuracy": model.info["feature_set_accuracy"], "validation": model.info["validation"],
            "model_bytes": len(data), "classify_texts": len(times),
            "classify_ms_p50": round(statistics.median(times), 3),
            "classify_ms_p95": round(sorted(times)[int(len(times) * 0.95) - 1], 3),
            "classify_ms_mean": round(statistics.fmean(times), 3)}


def similar_lookup(args) -> dict:
    import numpy as np

    from helpdesk.ai.embeddings import OFFLINE_DIM
    from helpdesk.ai.similar import VectorIndex

    log(f"similar lookup: building {args.vectors:,} vectors of {OFFLINE_DIM} float32")
    rng = np.random.default_rng(args.seed)
    matrix = rng.standard_normal((args.vectors, OFFLINE_DIM), dtype=np.float32)
    started = time.perf_counter()
    index = VectorIndex(np.arange(args.vectors), matrix)
    build_s = time.perf_counter() - started
    del matrix
    queries = rng.standard_normal((args.queries + 3, OFFLINE_DIM), dtype=np.float32)
    for q in queries[:3]:
        index.search(q, 10)
    times = []
    for q in queries[3:]:
        started = time.perf_counter()
        found = index.search(q, 10, exclude={1, 2, 3})
        times.append((time.perf_counter() - started) * 1000)
        assert len(found) == 10
    return {"vectors": args.vectors, "dim": OFFLINE_DIM, "matrix_mb": round(index.matrix.nbytes / 2**20),
            "build_s": round(build_s, 2), "queries": len(times), "search_ms_p50": round(statistics.median(times), 2),
            "search_ms_p95": round(sorted(times)[max(0, int(len(times) * 0.95) - 1)], 2)}


def blas() -> str:
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        return ", ".join(f"{i['internal_api']} {i.get('architecture', '')} x{i['num_threads']}" for i in info)
    except Exception:
        return "unknown"


def intake_rate(args) -> dict:
    """Tickets per second through services.tickets.create, without AI and with `[ai]` on and a stand-in
    Ollama that takes 5 s per answer."""
    import tempfile

    from ollama_standin import OllamaStandin

    from helpdesk.domain.desk import create, open_desk
    from helpdesk.services import ai, tickets

    figures = {}
    with tempfile.TemporaryDirectory() as tmp, OllamaStandin() as standin:
        home = Path(tmp)
        os.environ.update(HELPDESK_HOME=str(home), HELPDESK_AGENT="bench",
                          HELPDESK_DATABASE_URL=f"sqlite:///{home / 'helpdesk.db'}")
        shipped = (ROOT / "config" / "helpdesk.toml").read_text()
        for name, enabled in (("without_ai", "false"), ("with_ai_5s_model", "true")):
            config = shipped.replace('[ai]\nenabled = false', f'[ai]\nenabled = {enabled}\nread_timeout = 10')
            (home / "config.toml").write_text(config)
            (home / "config.toml").chmod(0o600)
            if not (home / "helpdesk.db").exists():
                create()
            desk = open_desk()
            if enabled == "true":
                # Warm, as a running daemon or TUI is: the model client, language and mood models loaded
                # (a cold process pays ~1-2 s of imports and model loads once, on the worker thread).
                ai.classify_text(desk, "The printer prints blank pages")
            standin.script(*({"sleep": 5} for _ in range(args.intake_tickets)))
            try:
                started = time.perf_counter()
                for i in range(args.intake_tickets):
                    tickets.create(desk, title=f"Printer {i} prints blank pages", body="since the toner change",
                                   channel="api")
                took = time.perf_counter() - started
            finally:
                figures[name] = {"tickets": args.intake_tickets, "seconds": round(took, 2),
                                 "per_second": round(args.intake_tickets / took, 1)}
                standin.steps.clear()
                ai.wait_idle(60)
                desk.close()
    return figures


def report_text(result: dict) -> str:
    lines = ["AI benchmark", f"  code {result['code']['commit']}{' (dirty)' if result['code']['helpdesk_dirty'] else ''}, "
             f"{result['machine']}, load {result['load_before']} -> {result['load_after']}, blas {result['blas']}", ""]
    tc = result["training"]
    sim = result["similar"]
    lines += ["| measure | figure | target |", "|---|---|---|",
              f"| offline classification per ticket (p50 / p95) | {tc['classify_ms_p50']} / {tc['classify_ms_p95']} ms "
              f"| <= {TARGETS['classify_ms']:g} ms |",
              f"| training, {tc['train_texts']:,} tickets ({tc['feature_set']} chosen, {tc['validation']}) | "
              f"{tc['train_s']} s | <= {TARGETS['train_10k_s']:g} s |",
              f"| similar lookup, top 10 of {sim['vectors']:,} x {sim['dim']} (p50 / p95) | {sim['search_ms_p50']} / "
              f"{sim['search_ms_p95']} ms | <= {TARGETS['similar_1m_ms']:g} ms |", ""]
    lines += ["| set | ours: accuracy / macro-F1 | baseline: accuracy / macro-F1 | feature set (validation acc.) "
              "| high: share / acc. | medium: share / acc. | low: share / acc. |", "|---|---|---|---|---|---|---|"]
    for name, rep in result["eval"].items():
        base = rep["baseline"]
        fs = ", ".join(f"{k} {v}" for k, v in rep["feature_set_accuracy"].items())
        cells = [f"{lv['share']} / {lv['accuracy']}" for lv in rep["levels"].values()]
        lines.append(f"| {name} ({rep['train_texts']:,} / {rep['test_texts']:,}) | {rep['accuracy']} / {rep['macro_f1']} "
                     f"| {base['accuracy']} / {base['macro_f1']} (C={base['C']:g}) | {rep['feature_set']} ({fs}) | "
                     + " | ".join(cells) + " |")
    if result.get("intake"):
        i = result["intake"]
        lines += ["", f"intake: {i['without_ai']['per_second']} tickets/s without AI, "
                  f"{i['with_ai_5s_model']['per_second']} tickets/s with [ai] on and the model answering in 5 s "
                  f"({i['without_ai']['tickets']} tickets each)"]
    d = result["detectors"]
    lines += ["", f"injection: {d['injection']['flagged']}/{d['injection']['attacks']} attempts flagged, "
              f"{d['injection']['false_flags']}/{d['injection']['benign']} ordinary tickets flagged, "
              f"{d['injection']['ms_per_text']} ms per text",
              f"language: {d['language']['right']}/{d['language']['texts']} right, model load {d['language']['load_s']} s, "
              f"{d['language']['ms_per_text']} ms per text",
              f"sentiment (lexicon): {d['sentiment']['holdout_accuracy']} on the hold-out set, "
              f"{d['sentiment']['tuned_set_accuracy']} on the set its cut points were set on"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--banking77", help="folder with Banking77's train.csv and test.csv (text,category)")
    parser.add_argument("--train-texts", type=int, default=10_000)
    parser.add_argument("--classify-texts", type=int, default=500)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--intake-tickets", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = parser.parse_args()

    result = {"code": code_state(), "machine": f"{platform.machine()} {os.cpu_count()} cpus",
              "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    result["eval"] = eval_sets(args)
    result["detectors"] = detector_figures()
    result["training"] = training_and_classification(args)
    result["similar"] = similar_lookup(args)
    result["intake"] = intake_rate(args)
    result["blas"] = blas()
    result["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report_text(result)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"ai-{stamp}.json").write_text(json.dumps(result, indent=2))
    (out / f"ai-{stamp}.txt").write_text(text + "\n")
    log(f"wrote {out}/ai-{stamp}.json and .txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
