#include "pool.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

namespace flatminima {

namespace {

// The clipped window of output row (or column) o: [begin, end) of the input.
inline void Window(int64_t o, int64_t stride, int64_t pad, int64_t size, int64_t extent, int64_t* begin, int64_t* end) {
  const int64_t start = o * stride - pad;
  *begin = std::max<int64_t>(0, start);
  *end = std::min<int64_t>(extent, start + size);
}

}  // namespace

// The per-image loops are compiled for AVX-512, AVX2 and plain x86-64, and the loader picks the
// best the CPU has (the machine that builds the addon and the one that runs it may differ, so no
// -march flag). They are functions of their own because GCC outlines an OpenMP region before it
// clones a function for targets: code inside the region would only get the plain x86-64 version.
#define FLATMINIMA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace {

// One image: x [h, w, c] -> y [oh, ow, c].
FLATMINIMA_CLONES void MaxPoolImage(const PoolGeometry& g, const float* x, float* y) {
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t oy = 0; oy < g.oh; oy++) {
    int64_t r0, r1;
    Window(oy, g.sh, g.pt, g.fh, g.h, &r0, &r1);
    for (int64_t ox = 0; ox < g.ow; ox++) {
      int64_t c0, c1;
      Window(ox, g.sw, g.pl, g.fw, g.w, &c0, &c1);
      float* out = y + (oy * g.ow + ox) * g.c;
      std::fill(out, out + g.c, lowest);
      for (int64_t r = r0; r < r1; r++) {
        for (int64_t q = c0; q < c1; q++) {
          const float* in = x + (r * g.w + q) * g.c;
          // `v > m` is false for NaN: NaN never becomes the maximum (as on tfjs's cpu backend).
          for (int64_t d = 0; d < g.c; d++) out[d] = in[d] > out[d] ? in[d] : out[d];
        }
      }
    }
  }
}

// One image's gradient. Per window: each channel's maximum first (as MaxPoolImage), then one pass
// in row-major order that gives the gradient to the first position equal to it, with selects
// rather than branches so that the channel loops vectorise. A maximum of -Infinity (a window of
// only -Infinity and NaN) passes nothing on, as on cpu, where no value is strictly greater than
// the initial -Infinity. With `disjoint` windows every position lies in at most one window and is
// written (not added to), so dx need not be zeroed where the windows cover it.
FLATMINIMA_CLONES void MaxPoolGradImage(const PoolGeometry& g, bool disjoint, const float* x, const float* dy, float* dx,
                                        float* best, float* open) {
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t oy = 0; oy < g.oh; oy++) {
    int64_t r0, r1;
    Window(oy, g.sh, g.pt, g.fh, g.h, &r0, &r1);
    for (int64_t ox = 0; ox < g.ow; ox++) {
      int64_t c0, c1;
      Window(ox, g.sw, g.pl, g.fw, g.w, &c0, &c1);
      std::fill(best, best + g.c, lowest);
      for (int64_t r = r0; r < r1; r++) {
        for (int64_t q = c0; q < c1; q++) {
          const float* in = x + (r * g.w + q) * g.c;
          for (int64_t d = 0; d < g.c; d++) best[d] = in[d] > best[d] ? in[d] : best[d];
        }
      }
      for (int64_t d = 0; d < g.c; d++) open[d] = best[d] > lowest ? 1.f : 0.f;
      const float* grad = dy + (oy * g.ow + ox) * g.c;
      for (int64_t r = r0; r < r1; r++) {
        for (int64_t q = c0; q < c1; q++) {
          const float* in = x + (r * g.w + q) * g.c;
          float* out = dx + (r * g.w + q) * g.c;
          if (disjoint) {
            for (int64_t d = 0; d < g.c; d++) {
              const bool hit = (open[d] != 0.f) & (in[d] == best[d]);
              out[d] = hit ? grad[d] : 0.f;
              open[d] = hit ? 0.f : open[d];
            }
          } else {
            for (int64_t d = 0; d < g.c; d++) {
              const bool hit = (open[d] != 0.f) & (in[d] == best[d]);
              out[d] += hit ? grad[d] : 0.f;
              open[d] = hit ? 0.f : open[d];
            }
          }
        }
      }
    }
  }
}

// Whether windows of `size` every `stride` from -pad, `out` of them, cover all of [0, extent).
bool Covers(int64_t extent, int64_t pad, int64_t out, int64_t stride, int64_t size) {
  return pad <= 0 && stride == size && (out - 1) * stride - pad + size >= extent;
}

}  // namespace

void MaxPool(const PoolGeometry& g, const float* x, float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < g.n; b++) MaxPoolImage(g, x + b * g.h * g.w * g.c, y + b * g.oh * g.ow * g.c);
}

void MaxPoolGrad(const PoolGeometry& g, const float* x, const float* dy, float* dx) {
  const bool disjoint = g.sh >= g.fh && g.sw >= g.fw;
  // Positions outside every window get 0; overlapping windows add up, so then all of dx starts at 0.
  if (!disjoint || !Covers(g.h, g.pt, g.oh, g.sh, g.fh) || !Covers(g.w, g.pl, g.ow, g.sw, g.fw)) {
    std::memset(dx, 0, sizeof(float) * g.n * g.h * g.w * g.c);
  }
  // Images are independent: each thread writes into its own images only.
#pragma omp parallel
  {
    std::vector<float> best(g.c), open(g.c);  // per thread: the window's maxima, channels still open
#pragma omp for schedule(static)
    for (int64_t b = 0; b < g.n; b++) {
      const int64_t in = b * g.h * g.w * g.c;
      MaxPoolGradImage(g, disjoint, x + in, dy + b * g.oh * g.ow * g.c, dx + in, best.data(), open.data());
    }
  }
}

}  // namespace flatminima
