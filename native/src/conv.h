// 2-D convolutions (forward, backward data, backward weights) on oneDNN 2.x for data the tfjs wasm
// backend holds: NHWC activations, HWIO filters, float32, written in place at caller-owned pointers.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

namespace flatminima {

// A convolution's geometry in tfjs's NHWC / HWIO terms. Dilations are tfjs's (1 = none). Pads are
// explicit: pt/pl >= 0; pb/pr may be negative (rows or columns no window reaches), down to
// 1 - stride, which oneDNN accepts.
struct ConvGeometry {
  int64_t n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, pt, pb, pl, pr;
};

// Which oneDNN memory layouts a primitive works in: 'plain' reads and writes the tfjs buffers
// directly; 'blocked' lets oneDNN choose (format_tag::any) and reorders in and out of it.
enum class Layout : int64_t { Plain = 0, Blocked = 1 };

// Runs and caches convolution primitives (the least recently used beyond kCapacity are dropped).
// The buffers of the blocked layouts are not per primitive: one scratch area, as large as the
// largest execution needs, is lent to each execution in turn. One per addon instance; not
// thread-safe (the wasm backend calls kernels from one thread).
class ConvRunner {
 public:
  explicit ConvRunner(const dnnl::engine& engine);

  // y = conv(x, w) (+ bias) (then ReLU). bias may be null.
  void Forward(const ConvGeometry& g, Layout layout, float* x, float* w, float* bias, bool relu, float* y);
  // dx = the gradient of conv(x, w) with respect to x, given dy.
  void BackwardData(const ConvGeometry& g, Layout layout, float* dy, float* w, float* dx);
  // dw (and dbias when not null) = the gradients with respect to w (and the bias), given x and dy.
  void BackwardWeights(const ConvGeometry& g, Layout layout, float* x, float* dy, float* dw, float* dbias);

  // The implementation oneDNN picked for a primitive (e.g. "gemm:jit"), creating it if needed.
  std::string Implementation(int kind, const ConvGeometry& g, Layout layout);
  size_t CachedPrimitives() const { return cache_.size(); }
  void Clear() {
    cache_.clear();
    scratch_.reset();
    scratch_bytes_ = 0;
  }

  // Most primitives kept.
  static constexpr size_t kCapacity = 128;

 private:
  // One primitive argument: the memory over the caller's buffer and, when oneDNN works in
  // another layout, its own memory and the reorders between them.
  struct Arg {
    int id;
    bool output;
    dnnl::memory user;
    dnnl::memory inner;  // == user when no reorder is needed
    dnnl::primitive reorder;  // user -> inner (input) or inner -> user (output); empty if none
    size_t inner_bytes;  // bytes of `inner` in the scratch area (0 when inner == user)
  };
  struct Entry {
    dnnl::primitive primitive;
    std::vector<Arg> args;
    std::unordered_map<int, dnnl::memory> exec_args;
    std::string implementation;
    uint64_t last_used;
  };
  using Key = std::array<int64_t, 23>;

  Entry& Get(int kind, const ConvGeometry& g, Layout layout, bool bias, bool relu);
  std::unique_ptr<Entry> Create(int kind, const ConvGeometry& g, Layout layout, bool bias, bool relu);
  void Run(Entry& e, const std::vector<void*>& pointers);

  dnnl::engine engine_;
  dnnl::stream stream_;
  std::map<Key, std::unique_ptr<Entry>> cache_;
  uint64_t clock_ = 0;
  std::unique_ptr<uint8_t[]> scratch_;
  size_t scratch_bytes_ = 0;
};

}  // namespace flatminima
