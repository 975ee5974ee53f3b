// flatminima's optional native kernels: an N-API addon over oneDNN that computes the heavy
// training kernels of the tfjs wasm backend IN PLACE on that backend's memory. Every kernel takes
// a Uint8Array over the WebAssembly.Memory (made afresh by the caller after the memory grows) and
// byte offsets into it, as the wasm backend's own tensors are addressed; every access is checked
// against the array's bounds before anything runs.
#include <napi.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>

#include <cmath>
#include <cstdint>
#include <string>

#include <dnnl.hpp>

#include "conv.h"
#include "elementwise.h"
#include "gemm.h"
#include "pool.h"

namespace flatminima {

namespace {

// The wasm heap as the caller passed it.
struct Heap {
  uint8_t* base;
  size_t bytes;
};

std::string Where(const char* kernel, const char* name) { return std::string("flatminima native ") + kernel + ": " + name; }

Heap HeapArg(const Napi::CallbackInfo& info, const char* kernel) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value buffer;
  size_t offset;
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      napi_get_typedarray_info(info.Env(), info[0], &type, &length, &data, &buffer, &offset) != napi_ok ||
      type != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), Where(kernel, "heap must be a Uint8Array over the wasm memory"));
  }
  return Heap{static_cast<uint8_t*>(data), length};
}

int64_t Int(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), Where(kernel, name) + " must be a number");
  }
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9007199254740991.0) {
    throw Napi::RangeError::New(info.Env(), Where(kernel, name) + " must be an integer, got " + std::to_string(v));
  }
  return static_cast<int64_t>(v);
}

int64_t NonNegative(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  const int64_t v = Int(info, i, kernel, name);
  if (v < 0) throw Napi::RangeError::New(info.Env(), Where(kernel, name) + " must be >= 0, got " + std::to_string(v));
  return v;
}

int64_t Positive(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  const int64_t v = Int(info, i, kernel, name);
  if (v < 1) throw Napi::RangeError::New(info.Env(), Where(kernel, name) + " must be >= 1, got " + std::to_string(v));
  return v;
}

// `count` floats at byte offset `offset` of the heap; -1 means "none" where `optional`.
float* Floats(const Napi::CallbackInfo& info, const Heap& heap, size_t i, int64_t count, const char* kernel, const char* name,
              bool optional = false) {
  const int64_t offset = Int(info, i, kernel, name);
  if (optional && offset == -1) return nullptr;
  if (offset < 0 || offset % 4 != 0) {
    throw Napi::RangeError::New(info.Env(), Where(kernel, name) + " must be a non-negative multiple of 4, got " + std::to_string(offset));
  }
  const uint64_t end = static_cast<uint64_t>(offset) + 4 * static_cast<uint64_t>(count);
  if (count < 0 || end > heap.bytes) {
    throw Napi::RangeError::New(info.Env(), Where(kernel, name) + ": " + std::to_string(count) + " floats at byte " +
                                                std::to_string(offset) + " run past the heap (" + std::to_string(heap.bytes) +
                                                " bytes)");
  }
  return reinterpret_cast<float*>(heap.base + offset);
}

// Geometry arguments info[first .. first+16] in the order of ConvGeometry's fields.
ConvGeometry ConvArgs(const Napi::CallbackInfo& info, size_t first, const char* kernel) {
  ConvGeometry g;
  size_t i = first;
  g.n = NonNegative(info, i++, kernel, "n");
  g.h = Positive(info, i++, kernel, "h");
  g.w = Positive(info, i++, kernel, "w");
  g.ci = Positive(info, i++, kernel, "ci");
  g.kh = Positive(info, i++, kernel, "kh");
  g.kw = Positive(info, i++, kernel, "kw");
  g.co = Positive(info, i++, kernel, "co");
  g.oh = Positive(info, i++, kernel, "oh");
  g.ow = Positive(info, i++, kernel, "ow");
  g.sh = Positive(info, i++, kernel, "sh");
  g.sw = Positive(info, i++, kernel, "sw");
  g.dh = Positive(info, i++, kernel, "dh");
  g.dw = Positive(info, i++, kernel, "dw");
  g.pt = NonNegative(info, i++, kernel, "pt");
  g.pb = Int(info, i++, kernel, "pb");
  g.pl = NonNegative(info, i++, kernel, "pl");
  g.pr = Int(info, i++, kernel, "pr");
  return g;
}

Layout LayoutArg(const Napi::CallbackInfo& info, size_t i, const char* kernel) {
  const int64_t v = Int(info, i, kernel, "layout");
  if (v != 0 && v != 1) throw Napi::RangeError::New(info.Env(), Where(kernel, "layout") + " must be 0 (plain) or 1 (blocked)");
  return static_cast<Layout>(v);
}

PoolGeometry PoolArgs(const Napi::CallbackInfo& info, size_t first, const char* kernel) {
  PoolGeometry g;
  size_t i = first;
  g.n = NonNegative(info, i++, kernel, "n");
  g.h = NonNegative(info, i++, kernel, "h");
  g.w = NonNegative(info, i++, kernel, "w");
  g.c = NonNegative(info, i++, kernel, "c");
  g.oh = NonNegative(info, i++, kernel, "oh");
  g.ow = NonNegative(info, i++, kernel, "ow");
  g.fh = Positive(info, i++, kernel, "fh");
  g.fw = Positive(info, i++, kernel, "fw");
  g.sh = Positive(info, i++, kernel, "sh");
  g.sw = Positive(info, i++, kernel, "sw");
  g.pt = Int(info, i++, kernel, "pt");
  g.pl = Int(info, i++, kernel, "pl");
  return g;
}

// Asynchronous signals held back on this thread while it runs oneDNN code. oneDNN's generated f32
// GEMM kernels (up to 3.11.1; Debian ships 2.x) point the stack register into the heap while they
// run, so a signal handled on that thread meanwhile writes its frame over heap memory
// (uxlfoundation/oneDNN#4845, fixed by #4855): in Node, a CPU profile (SIGPROF), Ctrl-C (SIGINT) or a
// terminal resize (SIGWINCH) during a product or a gemm-based convolution corrupted the heap. Held
// signals are delivered on return; process-wide ones go to another thread meanwhile. The OpenMP
// threads oneDNN starts inherit the mask of the thread that starts them (this one, inside a
// kernel), so they never take signals at all. Signals raised by the code itself (SIGSEGV, ...) stay
// unblocked so that a real fault still reports as one.
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t all;
    sigfillset(&all);
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&all, s);
    pthread_sigmask(SIG_BLOCK, &all, &previous_);
  }
  ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  sigset_t previous_;
};

const char* IsaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

}  // namespace

class NativeKernels : public Napi::Addon<NativeKernels> {
 public:
  NativeKernels(Napi::Env env, Napi::Object exports) : engine_(dnnl::engine::kind::cpu, 0), conv_(engine_) {
    DefineAddon(exports, {
                             InstanceMethod("version", &NativeKernels::Version),
                             InstanceMethod("setThreads", &NativeKernels::SetThreads),
                             InstanceMethod("threads", &NativeKernels::Threads),
                             InstanceMethod("conv2d", &NativeKernels::Conv2d),
                             InstanceMethod("conv2dBackpropInput", &NativeKernels::Conv2dBackpropInput),
                             InstanceMethod("conv2dBackpropFilter", &NativeKernels::Conv2dBackpropFilter),
                             InstanceMethod("convImplementation", &NativeKernels::ConvImplementation),
                             InstanceMethod("matMul", &NativeKernels::MatMul),
                             InstanceMethod("maxPool", &NativeKernels::MaxPool),
                             InstanceMethod("maxPoolGrad", &NativeKernels::MaxPoolGrad),
                             InstanceMethod("relu", &NativeKernels::Relu),
                             InstanceMethod("step", &NativeKernels::Step),
                             InstanceMethod("reluGrad", &NativeKernels::ReluGrad),
                             InstanceMethod("binary", &NativeKernels::Binary),
                             InstanceMethod("columnSums", &NativeKernels::ColumnSums),
                             InstanceMethod("cachedPrimitives", &NativeKernels::CachedPrimitives),
                             InstanceMethod("clearCache", &NativeKernels::ClearCache),
                         });
  }

 private:
  // Turns oneDNN's and the standard library's exceptions into JavaScript errors.
  template <typename F>
  static Napi::Value Guard(const Napi::CallbackInfo& info, const char* kernel, F body) {
    try {
      return body();
    } catch (const Napi::Error&) {
      throw;
    } catch (const dnnl::error& e) {
      throw Napi::Error::New(info.Env(), std::string("flatminima native ") + kernel + ": oneDNN: " + e.what() +
                                             " (status " + std::to_string(static_cast<int>(e.status)) + ")");
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("flatminima native ") + kernel + ": " + e.what());
    }
  }

  // {major, minor, patch, hash, isa, runtime}: what the addon was linked against and runs on.
  Napi::Value Version(const Napi::CallbackInfo& info) {
    const dnnl_version_t* v = dnnl_version();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("major", v->major);
    o.Set("minor", v->minor);
    o.Set("patch", v->patch);
    o.Set("hash", v->hash);
    o.Set("isa", IsaName(dnnl::get_effective_cpu_isa()));
    o.Set("runtime", DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
    return o;
  }

  // setThreads(n): the OpenMP thread count of this (the calling) thread's parallel regions. The
  // threads are started here, with signals held (see SignalsHeld): they inherit that mask, so none
  // of them ever takes a signal, whichever kernel runs first.
  Napi::Value SetThreads(const Napi::CallbackInfo& info) {
    const int64_t n = Positive(info, 0, "setThreads", "threads");
    if (n > 1024) throw Napi::RangeError::New(info.Env(), "flatminima native setThreads: threads must be <= 1024");
    omp_set_num_threads(static_cast<int>(n));
    const SignalsHeld held;
#pragma omp parallel
    {
      // nothing: the team is started, and stays for later regions
    }
    return info.Env().Undefined();
  }

  Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), omp_get_max_threads()); }

  // conv2d(heap, x, w, bias | -1, y, n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, pt, pb, pl, pr, relu, layout)
  Napi::Value Conv2d(const Napi::CallbackInfo& info) {
    const char* k = "conv2d";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const ConvGeometry g = ConvArgs(info, 5, k);
      float* x = Floats(info, heap, 1, g.n * g.h * g.w * g.ci, k, "x");
      float* w = Floats(info, heap, 2, g.kh * g.kw * g.ci * g.co, k, "filter");
      float* bias = Floats(info, heap, 3, g.co, k, "bias", true);
      float* y = Floats(info, heap, 4, g.n * g.oh * g.ow * g.co, k, "y");
      const bool relu = Int(info, 22, k, "relu") != 0;
      const Layout layout = LayoutArg(info, 23, k);
      const SignalsHeld held;
      conv_.Forward(g, layout, x, w, bias, relu, y);
      return info.Env().Undefined();
    });
  }

  // conv2dBackpropInput(heap, dy, w, dx, <geometry>, layout)
  Napi::Value Conv2dBackpropInput(const Napi::CallbackInfo& info) {
    const char* k = "conv2dBackpropInput";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const ConvGeometry g = ConvArgs(info, 4, k);
      float* dy = Floats(info, heap, 1, g.n * g.oh * g.ow * g.co, k, "dy");
      float* w = Floats(info, heap, 2, g.kh * g.kw * g.ci * g.co, k, "filter");
      float* dx = Floats(info, heap, 3, g.n * g.h * g.w * g.ci, k, "dx");
      const Layout layout = LayoutArg(info, 21, k);
      const SignalsHeld held;
      conv_.BackwardData(g, layout, dy, w, dx);
      return info.Env().Undefined();
    });
  }

  // conv2dBackpropFilter(heap, x, dy, dw, dbias | -1, <geometry>, layout)
  Napi::Value Conv2dBackpropFilter(const Napi::CallbackInfo& info) {
    const char* k = "conv2dBackpropFilter";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const ConvGeometry g = ConvArgs(info, 5, k);
      float* x = Floats(info, heap, 1, g.n * g.h * g.w * g.ci, k, "x");
      float* dy = Floats(info, heap, 2, g.n * g.oh * g.ow * g.co, k, "dy");
      float* dw = Floats(info, heap, 3, g.kh * g.kw * g.ci * g.co, k, "dw");
      float* dbias = Floats(info, heap, 4, g.co, k, "dbias", true);
      const Layout layout = LayoutArg(info, 22, k);
      const SignalsHeld held;
      conv_.BackwardWeights(g, layout, x, dy, dw, dbias);
      return info.Env().Undefined();
    });
  }

  // convImplementation(kind 0|1|2, <geometry>, layout): oneDNN's name for the implementation it picks.
  Napi::Value ConvImplementation(const Napi::CallbackInfo& info) {
    const char* k = "convImplementation";
    return Guard(info, k, [&]() -> Napi::Value {
      const int64_t kind = Int(info, 0, k, "kind");
      const ConvGeometry g = ConvArgs(info, 1, k);
      return Napi::String::New(info.Env(), conv_.Implementation(static_cast<int>(kind), g, LayoutArg(info, 18, k)));
    });
  }

  // matMul(heap, a, b, c, bias | -1, biasMode, relu, m, k, n, batch, transposeA, transposeB, aShared, bShared)
  Napi::Value MatMul(const Napi::CallbackInfo& info) {
    const char* k = "matMul";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const int64_t mode = Int(info, 5, k, "biasMode");
      if (mode < 0 || mode > 2) throw Napi::RangeError::New(info.Env(), Where(k, "biasMode") + " must be 0, 1 or 2");
      MatMulShape s;
      s.m = NonNegative(info, 7, k, "m");
      s.k = NonNegative(info, 8, k, "k");
      s.n = NonNegative(info, 9, k, "n");
      s.batch = NonNegative(info, 10, k, "batch");
      s.transpose_a = Int(info, 11, k, "transposeA") != 0;
      s.transpose_b = Int(info, 12, k, "transposeB") != 0;
      s.a_shared = Int(info, 13, k, "aShared") != 0;
      s.b_shared = Int(info, 14, k, "bShared") != 0;
      const float* a = Floats(info, heap, 1, (s.a_shared ? 1 : s.batch) * s.m * s.k, k, "a");
      const float* b = Floats(info, heap, 2, (s.b_shared ? 1 : s.batch) * s.k * s.n, k, "b");
      float* c = Floats(info, heap, 3, s.batch * s.m * s.n, k, "c");
      const BiasMode bias_mode = static_cast<BiasMode>(mode);
      const float* bias = Floats(info, heap, 4, bias_mode == BiasMode::PerColumn ? s.n : 1, k, "bias", bias_mode == BiasMode::None);
      const bool relu = Int(info, 6, k, "relu") != 0;
      const SignalsHeld held;
      flatminima::MatMul(s, a, b, c, bias, bias_mode, relu);
      return info.Env().Undefined();
    });
  }

  // maxPool(heap, x, y, n, h, w, c, oh, ow, fh, fw, sh, sw, pt, pl)
  Napi::Value MaxPool(const Napi::CallbackInfo& info) {
    const char* k = "maxPool";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const PoolGeometry g = PoolArgs(info, 3, k);
      const float* x = Floats(info, heap, 1, g.n * g.h * g.w * g.c, k, "x");
      float* y = Floats(info, heap, 2, g.n * g.oh * g.ow * g.c, k, "y");
      flatminima::MaxPool(g, x, y);
      return info.Env().Undefined();
    });
  }

  // maxPoolGrad(heap, x, dy, dx, n, h, w, c, oh, ow, fh, fw, sh, sw, pt, pl)
  Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
    const char* k = "maxPoolGrad";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const PoolGeometry g = PoolArgs(info, 4, k);
      const float* x = Floats(info, heap, 1, g.n * g.h * g.w * g.c, k, "x");
      const float* dy = Floats(info, heap, 2, g.n * g.oh * g.ow * g.c, k, "dy");
      float* dx = Floats(info, heap, 3, g.n * g.h * g.w * g.c, k, "dx");
      flatminima::MaxPoolGrad(g, x, dy, dx);
      return info.Env().Undefined();
    });
  }

  // relu(heap, x, y, n)
  Napi::Value Relu(const Napi::CallbackInfo& info) {
    const char* k = "relu";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const int64_t n = NonNegative(info, 3, k, "n");
      flatminima::Relu(Floats(info, heap, 1, n, k, "x"), Floats(info, heap, 2, n, k, "y"), n);
      return info.Env().Undefined();
    });
  }

  // step(heap, x, y, n, alpha)
  Napi::Value Step(const Napi::CallbackInfo& info) {
    const char* k = "step";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const int64_t n = NonNegative(info, 3, k, "n");
      if (info.Length() < 5 || !info[4].IsNumber()) throw Napi::TypeError::New(info.Env(), Where(k, "alpha") + " must be a number");
      const float alpha = static_cast<float>(info[4].As<Napi::Number>().DoubleValue());
      flatminima::Step(Floats(info, heap, 1, n, k, "x"), Floats(info, heap, 2, n, k, "y"), n, alpha);
      return info.Env().Undefined();
    });
  }

  // reluGrad(heap, dy, y, out, n)
  Napi::Value ReluGrad(const Napi::CallbackInfo& info) {
    const char* k = "reluGrad";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const int64_t n = NonNegative(info, 4, k, "n");
      flatminima::ReluGrad(Floats(info, heap, 1, n, k, "dy"), Floats(info, heap, 2, n, k, "y"), Floats(info, heap, 3, n, k, "out"), n);
      return info.Env().Undefined();
    });
  }

  // binary(heap, op 0 add | 1 sub | 2 mul | 3 div, a, b, y, rows, cols, rowBroadcast, swapped)
  Napi::Value Binary(const Napi::CallbackInfo& info) {
    const char* k = "binary";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const int64_t op = Int(info, 1, k, "op");
      if (op < 0 || op > 3) throw Napi::RangeError::New(info.Env(), Where(k, "op") + " must be 0 (add), 1 (sub), 2 (mul) or 3 (div)");
      const int64_t rows = NonNegative(info, 5, k, "rows");
      const int64_t cols = NonNegative(info, 6, k, "cols");
      const bool row_broadcast = Int(info, 7, k, "rowBroadcast") != 0;
      const float* a = Floats(info, heap, 2, rows * cols, k, "a");
      const float* b = Floats(info, heap, 3, row_broadcast ? cols : rows * cols, k, "b");
      float* y = Floats(info, heap, 4, rows * cols, k, "y");
      flatminima::Binary(static_cast<BinaryOp>(op), a, b, y, rows, cols, row_broadcast, Int(info, 8, k, "swapped") != 0);
      return info.Env().Undefined();
    });
  }

  // columnSums(heap, x, y, rows, cols): y[c] = sum over r of x[r, c]
  Napi::Value ColumnSums(const Napi::CallbackInfo& info) {
    const char* k = "columnSums";
    return Guard(info, k, [&]() -> Napi::Value {
      const Heap heap = HeapArg(info, k);
      const int64_t rows = NonNegative(info, 3, k, "rows");
      const int64_t cols = NonNegative(info, 4, k, "cols");
      flatminima::ColumnSums(Floats(info, heap, 1, rows * cols, k, "x"), Floats(info, heap, 2, cols, k, "y"), rows, cols);
      return info.Env().Undefined();
    });
  }

  Napi::Value CachedPrimitives(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(conv_.CachedPrimitives()));
  }

  Napi::Value ClearCache(const Napi::CallbackInfo& info) {
    conv_.Clear();
    return info.Env().Undefined();
  }

  dnnl::engine engine_;
  ConvRunner conv_;
};

}  // namespace flatminima

using flatminima::NativeKernels;
NODE_API_ADDON(NativeKernels)
