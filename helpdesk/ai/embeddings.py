"""Text vectors: offline from wordllama's static word embeddings (always there: the weights and the
tokenizer ship inside its wheel), or from Ollama's /api/embed (ollama_client) when a server answers.
Vectors are L2-normalised float32 and travel as bytes (little-endian float32), so the store keeps them
as plain blobs.

wordllama is read from its package folder directly, without importing the package: its loader looks
for the tokenizer in a folder that does not exist and then tries a download (and its import configures
logging for the whole process). No download is ever attempted here.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from helpdesk.core.errors import HelpdeskError

OFFLINE_MODEL = "wordllama-l2_supercat-256"
OFFLINE_DIM = 256
_WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
_TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
MAX_CHARS = 8_000  # a long mail's head says what it is about; the rest only costs time
_BATCH = 512


class EmbeddingsUnavailable(HelpdeskError):
    """The offline embedding model's files are not where its package should have put them."""


def _package_folder() -> Path:

    spec = importlib.util.find_spec("wordllama")  # finds the folder without running the package
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingsUnavailable("the offline embeddings need the wordllama package: pip install wordllama")
    return Path(list(spec.submodule_search_locations)[0])


@functools.lru_cache(maxsize=1)
def _model():
    # Lazy: numpy, safetensors and tokenizers, and 16 MB of weights, only for the texts that need vectors.
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    folder = _package_folder()
    weights, tokenizer = folder / _WEIGHTS, folder / _TOKENIZER
    for path in (weights, tokenizer):
        if not path.is_file():
            raise EmbeddingsUnavailable(f"the offline embedding model is incomplete: {path} is missing "
                                        f"(reinstall wordllama)")
    matrix = load_file(str(weights))["embedding.weight"].astype("float32")
    return matrix, Tokenizer.from_file(str(tokenizer))


def embed_offline(texts: list[str]):
    """(len(texts), 256) float32, each row the L2-normalised mean of the text's token vectors (a text
    without tokens gives a zero row)."""
    import numpy as np  # lazy: see _model

    matrix, tokenizer = _model()
    out = np.zeros((len(texts), matrix.shape[1]), dtype=np.float32)
    for start in range(0, len(texts), _BATCH):
        chunk = [t[:MAX_CHARS] for t in texts[start:start + _BATCH]]
        encoded = tokenizer.encode_batch(chunk, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encoded), dtype=np.int64, count=len(encoded))
        if not lengths.any():
            continue
        ids = np.fromiter((i for e in encoded for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        np.clip(ids, 0, matrix.shape[0] - 1, out=ids)
        nonempty = lengths > 0
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[nonempty]
        sums = np.add.reduceat(matrix[ids], starts, axis=0)
        out[start:start + len(chunk)][nonempty] = sums / lengths[nonempty, None]
    return normalise_rows(out)


def normalise_rows(vectors):
    """Rows scaled to unit length (zero rows stay zero), float32."""
    import numpy as np  # lazy: see _model

    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def to_bytes(vector) -> bytes:
    """One vector as little-endian float32 bytes."""
    import numpy as np  # lazy: see _model

    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes):
    """One vector back from `to_bytes` (a read-only view of the bytes)."""
    import numpy as np  # lazy: see _model

    if len(data) % 4:
        raise ValueError(f"a float32 vector has a length divisible by 4, not {len(data)}")
    return np.frombuffer(data, dtype="<f4")


def matrix_from_bytes(blobs: list[bytes], dim: int):
    """(len(blobs), dim) float32 from vectors stored with `to_bytes`; every one must have `dim` values."""
    import numpy as np  # lazy: see _model

    size = dim * 4
    wrong = next((i for i, b in enumerate(blobs) if len(b) != size), None)
    if wrong is not None:
        raise ValueError(f"vector {wrong} has {len(blobs[wrong]) // 4} values, not {dim}")
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim).astype(np.float32)
