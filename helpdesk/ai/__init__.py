"""AI assistance that runs on the desk's own machine: texts and labels in, suggestions out.

- `classify.classify_text`: category, priority, sentiment and language of one ticket text, each a
  suggestion with a confidence, a level (low / medium / high) and its source (llm / offline / rule);
  Ollama when it answers, else the offline classifier, never a traceback.
- `ollama_client.OllamaAssistant`: the Ollama client (structured output against a schema of fixed labels,
  timeouts always set, one retry, every failure one clear line).
- `offline`: the classifier trained on a desk's own labelled history (TF-IDF, optionally static word
  embeddings, a class-balanced linear model with calibrated confidence), versioned bytes without pickle.
- `evaluation.evaluate`: accuracy, macro-F1, per-label recall and per-level accuracy/coverage of the
  offline classifier next to a tuned TF-IDF + logistic-regression baseline trained in the same run.
- `injection`, `language`, `sentiment`: offline detectors of our own or from packages that ship their model.
- `embeddings`, `similar`: offline text vectors (wordllama's weights, from its package folder) or Ollama's,
  as float32 bytes, and cosine top-k over a matrix.

Importing this package (and its modules) is cheap: numpy, scikit-learn, ollama and the models load inside
the functions that need them, so CLI commands that do not use AI never pay for them. This package imports
nothing of helpdesk but `helpdesk.core.errors`, `helpdesk.core.sanitise` and `helpdesk.core.limits`.
"""
