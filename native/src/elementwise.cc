#include "elementwise.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace flatminima {

namespace {

// Chunks the threads share; each is compiled for AVX-512, AVX2 and plain x86-64 (the per-chunk
// functions are separate from the OpenMP loops: GCC outlines an OpenMP region before cloning).
#define FLATMINIMA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
constexpr int64_t kChunk = 1 << 14;

FLATMINIMA_CLONES void ReluChunk(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] < 0.f ? 0.f : x[i];
}

FLATMINIMA_CLONES void StepChunk(const float* x, float* y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.f ? 1.f : (x[i] != x[i] ? x[i] : alpha);
}

// dy * step(y): the product is kept (not a select) so that -0, inf * 0 and NaN come out as tfjs's
// Multiply(dy, Step(y)) has them.
FLATMINIMA_CLONES void ReluGradChunk(const float* dy, const float* y, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = dy[i] * (y[i] > 0.f ? 1.f : (y[i] != y[i] ? y[i] : 0.f));
}

template <BinaryOp op>
inline float Apply(float a, float b) {
  if constexpr (op == BinaryOp::Add) return a + b;
  if constexpr (op == BinaryOp::Sub) return a - b;
  if constexpr (op == BinaryOp::Mul) return a * b;
  return a / b;
}

template <BinaryOp op>
FLATMINIMA_CLONES void SameChunk(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = Apply<op>(a[i], b[i]);
}

template <BinaryOp op, bool swapped>
FLATMINIMA_CLONES void RowChunk(const float* a, const float* b, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    const float* ar = a + r * cols;
    float* yr = y + r * cols;
    for (int64_t c = 0; c < cols; c++) yr[c] = swapped ? Apply<op>(b[c], ar[c]) : Apply<op>(ar[c], b[c]);
  }
}

FLATMINIMA_CLONES void AddRows(const float* x, float* acc, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    for (int64_t c = 0; c < cols; c++) acc[c] += xr[c];
  }
}

template <BinaryOp op>
void BinaryAs(const float* a, const float* b, float* y, int64_t rows, int64_t cols, bool row_broadcast, bool swapped) {
  if (!row_broadcast) {
    const int64_t n = rows * cols;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i += kChunk) SameChunk<op>(a + i, b + i, y + i, std::min(kChunk, n - i));
    return;
  }
  const int64_t step = std::max<int64_t>(1, kChunk / std::max<int64_t>(1, cols));  // rows per chunk
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r += step) {
    const int64_t count = std::min(step, rows - r);
    if (swapped) RowChunk<op, true>(a + r * cols, b, y + r * cols, count, cols);
    else RowChunk<op, false>(a + r * cols, b, y + r * cols, count, cols);
  }
}

}  // namespace

void Relu(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i += kChunk) ReluChunk(x + i, y + i, std::min(kChunk, n - i));
}

void Step(const float* x, float* y, int64_t n, float alpha) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i += kChunk) StepChunk(x + i, y + i, std::min(kChunk, n - i), alpha);
}

void ReluGrad(const float* dy, const float* y, float* out, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i += kChunk) ReluGradChunk(dy + i, y + i, out + i, std::min(kChunk, n - i));
}

void Binary(BinaryOp op, const float* a, const float* b, float* y, int64_t rows, int64_t cols, bool row_broadcast, bool swapped) {
  switch (op) {
    case BinaryOp::Add: return BinaryAs<BinaryOp::Add>(a, b, y, rows, cols, row_broadcast, swapped);
    case BinaryOp::Sub: return BinaryAs<BinaryOp::Sub>(a, b, y, rows, cols, row_broadcast, swapped);
    case BinaryOp::Mul: return BinaryAs<BinaryOp::Mul>(a, b, y, rows, cols, row_broadcast, swapped);
    case BinaryOp::Div: return BinaryAs<BinaryOp::Div>(a, b, y, rows, cols, row_broadcast, swapped);
  }
}

void ColumnSums(const float* x, float* y, int64_t rows, int64_t cols) {
  // Blocks of rows summed separately and then added (as the wasm routine does), so that rounding
  // error grows with the number of blocks, not with the row count; blocks are split between the
  // threads, and the block sums are added in block order whatever the thread count.
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
  std::vector<float> partial(static_cast<size_t>(blocks * cols), 0.f);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < blocks; k++) {
    AddRows(x + k * kBlock * cols, partial.data() + k * cols, std::min(kBlock, rows - k * kBlock), cols);
  }
  std::fill(y, y + cols, 0.f);
  for (int64_t k = 0; k < blocks; k++) AddRows(partial.data() + k * cols, y, 1, cols);
}

}  // namespace flatminima
