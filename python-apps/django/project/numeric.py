"""The numeric workload (seeds 000, 002, 003: "Python wins CPU-bound numerical work through
NumPy"): a dense matrix product C = A·B of two n×n matrices of doubles, with NumPy, as a
Python service does it: the matrices built by vectorized operations, the product by `@`
(OpenBLAS, in the NumPy wheel).

The matrices, the same in every target: A[i][j] = ((i + 2j) mod 7) - 3 and
B[i][j] = ((3i + j) mod 5) - 2. Their entries are small integers, so every sum in the product
is an exact integer in a double whatever the order of the additions (BLAS blocks and
vectorizes them): every target returns the same trace(C) and sum of C's squared entries.

Framework-free; the FastAPI and Django apps carry identical copies (tests/app_sources.rs).
"""

import os

# One BLAS thread per server process, set before NumPy loads OpenBLAS: a Node.js process
# computes on its one thread, and OpenBLAS would otherwise start a thread per CPU it sees,
# some of which may lie outside the container's cpuset.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after the thread setting, on purpose)


def matmul(n: int) -> dict:
    index = np.arange(n, dtype=np.float64)
    a = np.mod(index[:, None] + 2 * index[None, :], 7) - 3
    b = np.mod(3 * index[:, None] + index[None, :], 5) - 2
    c = a @ b
    return {"n": n, "trace": float(np.trace(c)), "sum_sq": float(np.vdot(c, c))}
