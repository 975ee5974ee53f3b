// Max pooling and its gradient over NHWC float32, following tfjs's cpu backend exactly: a window's
// maximum ignores NaN (-Infinity for a window with nothing else), and the gradient of each output
// goes to the FIRST maximum of its window in row-major order (nothing for a window without one).
#pragma once

#include <cstdint>

namespace flatminima {

// Input [n, h, w, c], output [n, oh, ow, c], window fh x fw, strides sh, sw; output (oy, ox) covers
// input rows oy*sh - pt .. +fh and columns ox*sw - pl .. +fw, clipped to the input.
struct PoolGeometry {
  int64_t n, h, w, c, oh, ow, fh, fw, sh, sw, pt, pl;
};

void MaxPool(const PoolGeometry& g, const float* x, float* y);
// dx (zeroed here first) = the gradient of MaxPool with respect to x, given dy.
void MaxPoolGrad(const PoolGeometry& g, const float* x, const float* dy, float* dx);

}  // namespace flatminima
