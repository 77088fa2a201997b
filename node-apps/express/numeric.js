'use strict';

// The numeric workload (seeds 000, 002, 003: "Python wins CPU-bound numerical work through
// NumPy"): a dense matrix product C = A·B of two n×n matrices of doubles, in idiomatic
// JavaScript: Float64Array storage, row-major, the i-k-j loop order (the inner loop walks
// rows of B and C contiguously). No native addon: what a Node.js service does without one.
//
// The matrices, the same in every target: A[i][j] = ((i + 2j) mod 7) - 3 and
// B[i][j] = ((3i + j) mod 5) - 2. Their entries are small integers, so every sum in the
// product is an exact integer in a double, whatever the order of the additions (NumPy's
// BLAS blocks and vectorizes them): every target returns the same trace(C) and sum of
// C's squared entries.
function matmul(n) {
  const a = new Float64Array(n * n);
  const b = new Float64Array(n * n);
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      a[i * n + j] = ((i + 2 * j) % 7) - 3;
      b[i * n + j] = ((3 * i + j) % 5) - 2;
    }
  }
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[row + k];
      const bRow = k * n;
      for (let j = 0; j < n; j++) {
        c[row + j] += aik * b[bRow + j];
      }
    }
  }
  let trace = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) trace += c[i * n + i];
  for (let x = 0; x < n * n; x++) sumSq += c[x] * c[x];
  return { n, trace, sum_sq: sumSq };
}

module.exports = { matmul };
