#include "gemm.h"

#include <dnnl.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace flatminima {

void MatMul(const MatMulShape& s, const float* a, const float* b, float* c, const float* bias, BiasMode bias_mode, bool relu) {
  const int64_t a_step = s.a_shared ? 0 : s.m * s.k;
  const int64_t b_step = s.b_shared ? 0 : s.k * s.n;
  const int64_t c_step = s.m * s.n;
  const int64_t lda = s.transpose_a ? s.m : s.k;
  const int64_t ldb = s.transpose_b ? s.k : s.n;
  for (int64_t t = 0; t < s.batch; t++) {
    float* ct = c + t * c_step;
    // The bias goes in first and sgemm adds the product to it (beta = 1).
    float beta = 1.f;
    if (bias_mode == BiasMode::PerColumn) {
      for (int64_t i = 0; i < s.m; i++) std::copy(bias, bias + s.n, ct + i * s.n);
    } else if (bias_mode == BiasMode::Scalar) {
      std::fill(ct, ct + c_step, bias[0]);
    } else {
      beta = 0.f;
      // sgemm leaves C untouched for k == 0 with beta 0 only by convention; make it explicit.
      if (s.k == 0) std::fill(ct, ct + c_step, 0.f);
    }
    if (s.k > 0 && c_step > 0) {
      const dnnl::status st = dnnl::sgemm(s.transpose_a ? 'T' : 'N', s.transpose_b ? 'T' : 'N', s.m, s.n, s.k, 1.f,
                                          a + t * a_step, lda, b + t * b_step, ldb, beta, ct, s.n);
      if (st != dnnl::status::success) throw std::runtime_error("dnnl_sgemm failed with status " + std::to_string(static_cast<int>(st)));
    }
    if (relu) {
      // NaN stays NaN, as tfjs's relu does (x < 0 is false for NaN).
      for (int64_t i = 0; i < c_step; i++) ct[i] = ct[i] < 0.f ? 0.f : ct[i];
    }
  }
}

}  // namespace flatminima
