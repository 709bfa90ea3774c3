"""Nearest vectors by cosine similarity: one matrix product over L2-normalised float32 rows and a partial
sort. About 70 ms for one query over 1,000,000 vectors of 256 dimensions on this project's machine
(bench/ai_bench.py measures it); a matrix of 1,000,000 x 256 float32 holds 1 GB."""

from __future__ import annotations

from dataclasses import dataclass

from helpdesk.ai.embeddings import matrix_from_bytes, normalise_rows


@dataclass(frozen=True)
class Neighbour:
    key: int  # the caller's id of the row (a ticket number)
    score: float  # cosine similarity, -1..1


class VectorIndex:
    """Rows of unit vectors with the caller's integer keys; `search` gives the k most similar."""

    def __init__(self, keys, matrix):
        import numpy as np  # lazy: numpy only where vectors are compared

        self.keys = np.asarray(keys, dtype=np.int64)
        self.matrix = normalise_rows(matrix)
        if self.matrix.ndim != 2 or len(self.keys) != self.matrix.shape[0]:
            raise ValueError(f"{len(self.keys)} keys for a matrix of shape {self.matrix.shape}")

    @classmethod
    def from_blobs(cls, rows: list[tuple[int, bytes]], dim: int) -> "VectorIndex":
        """From (key, to_bytes(vector)) pairs, as the store keeps them."""
        return cls([key for key, _ in rows], matrix_from_bytes([blob for _, blob in rows], dim))

    def extended(self, more: "VectorIndex") -> "VectorIndex":
        """A new index with `more`'s rows after these (one copy of the matrix, no re-normalising)."""
        import numpy as np  # lazy: see __init__

        index = VectorIndex.__new__(VectorIndex)
        index.keys = np.concatenate([self.keys, more.keys])
        index.matrix = np.concatenate([self.matrix, more.matrix])
        return index

    def has_any(self, keys) -> bool:
        """Whether any of `keys` is a row of this index."""
        import numpy as np  # lazy: see __init__

        return bool(np.isin(np.asarray(keys, dtype=np.int64), self.keys).any())

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, query, k: int = 10, *, exclude: set[int] | frozenset[int] = frozenset()) -> list[Neighbour]:
        """The k rows most similar to `query` (best first), leaving out the keys in `exclude`."""
        import numpy as np  # lazy: see __init__

        if not len(self.keys) or k <= 0:
            return []
        query = normalise_rows(np.asarray(query, dtype=np.float32).reshape(-1))
        if query.shape[0] != self.matrix.shape[1]:
            raise ValueError(f"a query of {query.shape[0]} values for vectors of {self.matrix.shape[1]}")
        scores = self.matrix @ query
        wanted = min(len(scores), k + len(exclude))
        top = np.argpartition(-scores, wanted - 1)[:wanted]
        top = top[np.argsort(-scores[top], kind="stable")]
        found = [Neighbour(int(self.keys[i]), float(scores[i])) for i in top if int(self.keys[i]) not in exclude]
        return found[:k]
