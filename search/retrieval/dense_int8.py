"""Int8 first pass for large dense indexes, with an exact float32 re-score: same results, ~4x faster.

Brute-force float32 search reads the whole matrix per query (1.5 GB at 1M x 384):
~235 ms p50 on 2 shared cores. An int8 copy is 4x smaller, and onnxruntime's
``MatMulInteger`` (MLAS, VNNI where the CPU has it) scores it fast enough that the
int8 pass plus the re-score take ~55 ms p50 (``bench/bench_search.py``).
:func:`exact_top_k` then re-scores the best candidates with the float32 rows and
widens the candidate set until the answer is provably the exact top ``k``:

- rows are quantised symmetrically, ``r ~ s_r * m_r`` (``m_r`` int8,
  ``s_r = max|r| / 127``), and so is the query, ``q ~ s_q * m_q``;
- the error of a row's approximate score is at most
  ``s_r / 2 * (s_q * ||m_r||_1 + ||q||_1)`` (rounding error of each factor times
  the other's L1 norm), bounded over all rows by one number ``bound``;
- a row left out has ``approx < s_k - bound``, hence ``exact < s_k`` (the k-th
  exact score found), so it cannot belong to the top ``k``.

The matrix is stored transposed (``dims x docs``) because ``MatMulInteger`` takes
the query as its (uint8) left operand: ``uint8(m_q + 128) @ m`` ran ~2x faster
than the same product with a zero-point input; the ``+128`` is subtracted back
through each row's sum.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from search import runtime_env

MATRIX_FILE = "int8_matrix.npy"
ROWS_FILE = "int8_rows.npz"
#: ``MatMulInteger(query uint8 [1, dims], matrix int8 [dims, docs]) -> int32 [1, docs]``,
#: opset 10, as :func:`graph_bytes` builds it (a test checks they agree).
MATMUL_INT8_ONNX = base64.b64decode(
    "CAcSCW1lZHNlYXJjaDqSAQomCgVxdWVyeQoGbWF0cml4EgZzY29yZXMiDU1hdE11bEludGVnZXISC2ludDhfc2NvcmVzWhsK"
    "BXF1ZXJ5EhIKEAgCEgwKAggBCgYSBGRpbXNaIAoGbWF0cml4EhYKFAgDEhAKBhIEZGltcwoGEgRkb2NzYhwKBnNjb3JlcxIS"
    "ChAIBhIMCgIIAQoGEgRkb2NzQgQKABAK"
)
_CHUNK = 65_536


@dataclass(slots=True)
class Int8Matrix:
    """The int8 copy of a normalised float32 matrix, and what undoing the quantisation needs."""

    matrix_t: np.ndarray  # int8 (dims, docs)
    scales: np.ndarray  # float32 (docs,): s_r
    row_sums: np.ndarray  # int32 (docs,): sum of m_r
    max_scale: float  # max s_r
    max_scaled_l1: float  # max s_r * ||m_r||_1

    @classmethod
    def from_vectors(cls, vectors: np.ndarray) -> Int8Matrix:
        n, dims = vectors.shape
        matrix_t = np.empty((dims, n), dtype=np.int8)
        scales = np.empty(n, dtype=np.float32)
        sums = np.empty(n, dtype=np.int32)
        max_l1 = 0.0
        for start in range(0, n, _CHUNK):
            block = np.asarray(vectors[start : start + _CHUNK], dtype=np.float32)
            s = np.maximum(np.abs(block).max(axis=1), 1e-12) / 127
            q = np.rint(block / s[:, None]).astype(np.int8)
            matrix_t[:, start : start + len(block)] = q.T
            scales[start : start + len(block)] = s
            sums[start : start + len(block)] = q.sum(axis=1, dtype=np.int32)
            l1 = np.abs(q.astype(np.int16)).sum(axis=1) * s
            max_l1 = max(max_l1, float(l1.max(initial=0.0)))
        return cls(matrix_t, scales, sums, float(scales.max(initial=0.0)), max_l1)

    def __len__(self) -> int:
        return self.matrix_t.shape[1]

    def save(self, folder: Path, atomic: Any) -> None:
        """Write both files through ``atomic(path, write)`` (see search.retrieval.dense)."""
        atomic(folder / MATRIX_FILE, lambda f: np.save(f, self.matrix_t))
        maxima = np.array([self.max_scale, self.max_scaled_l1])
        atomic(
            folder / ROWS_FILE,
            lambda f: np.savez(f, scales=self.scales, row_sums=self.row_sums, maxima=maxima),
        )

    @classmethod
    def load(cls, folder: Path, *, mmap: bool) -> Int8Matrix | None:
        """The saved copy, or ``None`` when there is none."""
        if not (folder / MATRIX_FILE).is_file() or not (folder / ROWS_FILE).is_file():
            return None
        matrix_t = np.load(folder / MATRIX_FILE, mmap_mode="r" if mmap else None)
        with np.load(folder / ROWS_FILE) as rows:
            max_scale, max_l1 = (float(x) for x in rows["maxima"])
            return cls(matrix_t, rows["scales"], rows["row_sums"], max_scale, max_l1)

    def approx_scores(self, query: np.ndarray) -> tuple[np.ndarray, float]:
        """Approximate scores of every row, and a bound on their absolute error."""
        q_scale = max(float(np.abs(query).max()), 1e-12) / 127
        q8 = np.rint(query / q_scale).astype(np.int16)
        shifted = (q8 + 128).astype(np.uint8)[None, :]
        raw = _session().run(None, {"query": shifted, "matrix": self.matrix_t})[0][0]
        raw -= 128 * self.row_sums
        approx = raw.astype(np.float32)
        approx *= self.scales
        approx *= q_scale
        bound = (q_scale * self.max_scaled_l1 + float(np.abs(query).sum()) * self.max_scale) / 2
        return approx, bound + 1e-5


def exact_top_k(
    approx: np.ndarray,
    bound: float,
    k: int,
    exact: Any,
    *,
    first: int = 1_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``approx``) and exact scores of the top ``k``, best first, ties by position.

    ``exact(positions)`` returns the float32 scores of those positions. The best
    ``max(first, 4k)`` by ``approx`` are re-scored, then every position whose
    ``approx`` is within ``bound`` of the k-th exact score.
    """
    from search.retrieval.ranking import top_k_order

    n = len(approx)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    size = min(n, max(first, 4 * k))
    cand = np.sort(np.argpartition(-approx, size - 1)[:size]) if size < n else np.arange(n)
    scores = exact(cand)
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    need = np.flatnonzero(approx >= kth - bound)
    extra = np.setdiff1d(need, cand, assume_unique=True)
    if len(extra):
        cand = np.concatenate([cand, extra])
        scores = np.concatenate([scores, exact(extra)])
        order = np.argsort(cand, kind="stable")
        cand, scores = cand[order], scores[order]
    best = top_k_order(scores, k)
    return cand[best], scores[best]


@cache
def _session() -> Any:
    runtime_env.configure()  # onnxruntime's telemetry off before it loads
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Idle threads sleep instead of spinning: on a small shared CPU, spinning steals
    # the cores that BM25 and numpy need right after.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(MATMUL_INT8_ONNX, options, providers=["CPUExecutionProvider"])


def graph_bytes() -> bytes:
    """Build :data:`MATMUL_INT8_ONNX` with the ``onnx`` package (not needed at run time)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["query", "matrix"], ["scores"])],
        "int8_scores",
        [
            helper.make_tensor_value_info("query", TensorProto.UINT8, [1, "dims"]),
            helper.make_tensor_value_info("matrix", TensorProto.INT8, ["dims", "docs"]),
        ],
        [helper.make_tensor_value_info("scores", TensorProto.INT32, [1, "docs"])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 10)], producer_name="medsearch"
    )
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model.SerializeToString()
