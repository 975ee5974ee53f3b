// Element-wise kernels for the large activations of a conv net's step (bias add, ReLU and its
// gradient mask, the products of the ReLU gradient, bias-gradient sums): memory-bound loops that
// plain C++ vectorises for AVX-512 / AVX2 (WebAssembly's 128-bit SIMD reaches about half the speed).
// NaN propagates as in tfjs's cpu backend.
#pragma once

#include <cstdint>

namespace flatminima {

enum class BinaryOp : int64_t { Add = 0, Sub = 1, Mul = 2, Div = 3 };

// y[i] = x[i] < 0 ? 0 : x[i]
void Relu(const float* x, float* y, int64_t n);
// y[i] = x[i] > 0 ? 1 : (x[i] is NaN ? NaN : alpha)
void Step(const float* x, float* y, int64_t n, float alpha);
// Same shapes: y[i] = a[i] op b[i]. Row broadcast (b has `cols` values): y[r, c] = a[r, c] op b[c],
// or b[c] op a[r, c] when `swapped`.
void ReluGrad(const float* dy, const float* y, float* out, int64_t n);
void Binary(BinaryOp op, const float* a, const float* b, float* y, int64_t rows, int64_t cols, bool row_broadcast, bool swapped);
// y[c] = sum over r of x[r, c] (a bias gradient: x [N*H*W, C]).
void ColumnSums(const float* x, float* y, int64_t rows, int64_t cols);

}  // namespace flatminima
