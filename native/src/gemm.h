// Matrix products for tfjs's BatchMatMul / _FusedMatMul on oneDNN's sgemm (row-major), with the
// fused bias and ReLU of _FusedMatMul.
#pragma once

#include <cstdint>

namespace flatminima {

// How a fused bias is laid out: none, one value per output column ([n] or [1, n]), one scalar.
enum class BiasMode : int64_t { None = 0, PerColumn = 1, Scalar = 2 };

// A batch of products C_t = op(A_t) op(B_t) (+ bias) (then ReLU), t = 0..batch-1, where op(A) is
// [m, k] (A stored [k, m] when transpose_a), op(B) is [k, n] (B stored [n, k] when transpose_b) and
// C_t is [m, n]. Consecutive items are packed one after another; a shared operand is the same
// matrix for every item (a broadcast batch dimension).
struct MatMulShape {
  int64_t m, k, n, batch;
  bool transpose_a, transpose_b, a_shared, b_shared;
};

void MatMul(const MatMulShape& s, const float* a, const float* b, float* c, const float* bias, BiasMode bias_mode, bool relu);

}  // namespace flatminima
