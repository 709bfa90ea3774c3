"""A stand-in for an Ollama server on loopback, speaking its real HTTP API, for tests and benchmarks.

`/api/tags`, `/api/chat` (non-streaming, with `format`) and `/api/embed`, answered as Ollama 0.x does
(a missing model is a 404 with Ollama's error text). Each chat request takes the next scripted step, if
any, else a default answer that fits the request's schema:
    {"answer": {...}}            the message content is this object as JSON
    {"content": "text"}          the message content as given (not JSON, say)
    {"sleep": 2.5, ...}          wait first (then the rest of the step, or the default answer)
    {"status": 500, "error": "..."}   an error answer
    {"close": True}              headers and half the body, then the connection is closed
Every request is kept in `requests` as (path, parsed JSON body) so tests can see what was sent.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMBED_DIM = 64


def _full_name(model: str) -> str:
    return model if ":" in model else f"{model}:latest"


def hashed_embedding(text: str, dim: int = EMBED_DIM) -> list[float]:
    """A bag-of-words vector (each word hashed to a dimension): texts sharing words point the same way."""
    vector = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def default_answer(body: dict) -> dict:
    """An answer in the request's schema: the first category whose first five letters the ticket holds (else
    the first category), P2, neutral, high."""
    schema = body.get("format") or {}
    properties = schema.get("properties", {})
    categories = properties.get("category", {}).get("enum", ["general"])
    ticket = body["messages"][-1]["content"].lower() if body.get("messages") else ""
    category = next((c for c in categories if c.lower()[:5] in ticket), categories[0])
    return {"category": category, "priority": "P2", "sentiment": "neutral", "confidence": "high"}


class OllamaStandin:
    def __init__(self, models: tuple[str, ...] = ("llama3.2", "nomic-embed-text")):
        self.models = {_full_name(m) for m in models}
        self.steps: deque[dict] = deque()
        self.requests: list[tuple[str, dict]] = []
        self._stopping = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                standin.requests.append((self.path, {}))
                if self.path == "/api/tags":
                    self._json(200, {"models": [standin._model_entry(m) for m in sorted(standin.models)]})
                else:
                    self._json(404, {"error": "404 page not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                standin.requests.append((self.path, body))
                model = _full_name(body.get("model", ""))
                if self.path not in ("/api/chat", "/api/embed"):
                    return self._json(404, {"error": "404 page not found"})
                if model not in standin.models:
                    return self._json(404, {"error": f'model "{body.get("model")}" not found, try pulling it first'})
                if self.path == "/api/embed":
                    inputs = body.get("input")
                    inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
                    return self._json(200, {"model": model, "embeddings": [hashed_embedding(t) for t in inputs],
                                            "total_duration": 1000, "load_duration": 10,
                                            "prompt_eval_count": len(inputs)})
                step = standin.steps.popleft() if standin.steps else {}
                if step.get("sleep"):
                    if standin._stopping.wait(step["sleep"]):
                        return
                if "status" in step:
                    return self._json(step["status"], {"error": step.get("error", "internal error")})
                if step.get("close"):
                    payload = b'{"model": "' + model.encode() + b'", "message": {"role": "assistant", "con'
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload) * 4))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                content = step["content"] if "content" in step else json.dumps(step.get("answer") or default_answer(body))
                self._json(200, {"model": model, "created_at": "2026-01-01T00:00:00Z",
                                 "message": {"role": "assistant", "content": content},
                                 "done": True, "done_reason": "stop", "total_duration": 1000,
                                 "prompt_eval_count": 10, "eval_count": 10})

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def _model_entry(name: str) -> dict:
        return {"name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z", "size": 2_019_393_189,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B",
                            "quantization_level": "Q4_K_M"}}

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *steps: dict) -> None:
        self.steps.extend(steps)

    def chat_requests(self) -> list[dict]:
        return [body for path, body in self.requests if path == "/api/chat"]

    def start(self) -> "OllamaStandin":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "OllamaStandin":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
