#include "conv.h"

#include <omp.h>

#include <stdexcept>

namespace flatminima {

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

constexpr int kForward = 0;
constexpr int kBackwardData = 1;
constexpr int kBackwardWeights = 2;

memory::desc Desc(const memory::dims& dims, tag t) { return memory::desc(dims, memory::data_type::f32, t); }

struct Descs {
  memory::desc src, weights, bias, dst;  // as the caller holds them
  memory::desc src_any, weights_any, dst_any;  // as the primitive is asked to work
  memory::dims strides, dilates, pad_l, pad_r;
};

Descs DescsOf(const ConvGeometry& g, Layout layout) {
  Descs d;
  d.src = Desc({g.n, g.ci, g.h, g.w}, tag::nhwc);
  d.weights = Desc({g.co, g.ci, g.kh, g.kw}, tag::hwio);
  d.bias = Desc({g.co}, tag::a);
  d.dst = Desc({g.n, g.co, g.oh, g.ow}, tag::nhwc);
  const bool blocked = layout == Layout::Blocked;
  d.src_any = blocked ? Desc({g.n, g.ci, g.h, g.w}, tag::any) : d.src;
  d.weights_any = blocked ? Desc({g.co, g.ci, g.kh, g.kw}, tag::any) : d.weights;
  d.dst_any = blocked ? Desc({g.n, g.co, g.oh, g.ow}, tag::any) : d.dst;
  d.strides = {g.sh, g.sw};
  // oneDNN counts dilation as the gap between taps (0 = none); tfjs as the step (1 = none).
  d.dilates = {g.dh - 1, g.dw - 1};
  d.pad_l = {g.pt, g.pl};
  d.pad_r = {g.pb, g.pr};
  return d;
}

}  // namespace

ConvRunner::ConvRunner(const dnnl::engine& engine) : engine_(engine), stream_(engine) {}

std::unique_ptr<ConvRunner::Entry> ConvRunner::Create(int kind, const ConvGeometry& g, Layout layout, bool bias, bool relu) {
  const Descs d = DescsOf(g, layout);
  auto entry = std::make_unique<Entry>();
  auto add = [&](int id, bool output, const memory::desc& user_md, const memory::desc& inner_md) {
    Arg a{id, output, memory(user_md, engine_, DNNL_MEMORY_NONE), {}, {}, 0};
    if (inner_md == user_md) {
      a.inner = a.user;
    } else {
      // Its buffer is lent from the scratch area at each execution (see Run).
      a.inner = memory(inner_md, engine_, DNNL_MEMORY_NONE);
      a.inner_bytes = inner_md.get_size();
      a.reorder = output ? dnnl::primitive(dnnl::reorder(a.inner, a.user)) : dnnl::primitive(dnnl::reorder(a.user, a.inner));
    }
    entry->exec_args[id] = a.inner;
    entry->args.push_back(a);
  };
  // The forward primitive descriptor: the primitive itself, or the hint the backward ones need.
  const dnnl::convolution_forward::desc fwd(
      kind == kForward ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training,
      dnnl::algorithm::convolution_direct, d.src_any, d.weights_any, bias ? d.bias : memory::desc(), d.dst_any, d.strides,
      d.dilates, d.pad_l, d.pad_r);
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  const dnnl::convolution_forward::primitive_desc fwd_pd(fwd, kind == kForward ? attr : dnnl::primitive_attr(), engine_);
  if (kind == kForward) {
    entry->primitive = dnnl::convolution_forward(fwd_pd);
    entry->implementation = fwd_pd.impl_info_str();
    add(DNNL_ARG_SRC, false, d.src, fwd_pd.src_desc());
    add(DNNL_ARG_WEIGHTS, false, d.weights, fwd_pd.weights_desc());
    if (bias) add(DNNL_ARG_BIAS, false, d.bias, fwd_pd.bias_desc());
    add(DNNL_ARG_DST, true, d.dst, fwd_pd.dst_desc());
  } else if (kind == kBackwardData) {
    const dnnl::convolution_backward_data::desc bwd(dnnl::algorithm::convolution_direct, d.src_any, d.weights_any, d.dst_any,
                                                    d.strides, d.dilates, d.pad_l, d.pad_r);
    const dnnl::convolution_backward_data::primitive_desc pd(bwd, engine_, fwd_pd);
    entry->primitive = dnnl::convolution_backward_data(pd);
    entry->implementation = pd.impl_info_str();
    add(DNNL_ARG_DIFF_DST, false, d.dst, pd.diff_dst_desc());
    add(DNNL_ARG_WEIGHTS, false, d.weights, pd.weights_desc());
    add(DNNL_ARG_DIFF_SRC, true, d.src, pd.diff_src_desc());
  } else if (kind == kBackwardWeights) {
    const dnnl::convolution_backward_weights::desc bwd(dnnl::algorithm::convolution_direct, d.src_any, d.weights_any,
                                                       bias ? d.bias : memory::desc(), d.dst_any, d.strides, d.dilates,
                                                       d.pad_l, d.pad_r);
    const dnnl::convolution_backward_weights::primitive_desc pd(bwd, engine_, fwd_pd);
    entry->primitive = dnnl::convolution_backward_weights(pd);
    entry->implementation = pd.impl_info_str();
    add(DNNL_ARG_SRC, false, d.src, pd.src_desc());
    add(DNNL_ARG_DIFF_DST, false, d.dst, pd.diff_dst_desc());
    add(DNNL_ARG_DIFF_WEIGHTS, true, d.weights, pd.diff_weights_desc());
    if (bias) add(DNNL_ARG_DIFF_BIAS, true, d.bias, pd.diff_bias_desc());
  } else {
    throw std::invalid_argument("convolution kind must be 0 (forward), 1 (backward data) or 2 (backward weights)");
  }
  return entry;
}

ConvRunner::Entry& ConvRunner::Get(int kind, const ConvGeometry& g, Layout layout, bool bias, bool relu) {
  // Primitives are specialised to the thread count they were made for (oneDNN keys its own cache
  // on it too), so it is part of the key.
  const Key key{kind, static_cast<int64_t>(layout), bias, relu, omp_get_max_threads(), g.n, g.h, g.w, g.ci, g.kh, g.kw, g.co,
                g.oh, g.ow, g.sh, g.sw, g.dh, g.dw, g.pt, g.pb, g.pl, g.pr, 0};
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    if (cache_.size() >= kCapacity) {
      auto oldest = cache_.begin();
      for (auto c = cache_.begin(); c != cache_.end(); ++c) {
        if (c->second->last_used < oldest->second->last_used) oldest = c;
      }
      cache_.erase(oldest);
    }
    it = cache_.emplace(key, Create(kind, g, layout, bias, relu)).first;
  }
  it->second->last_used = ++clock_;
  return *it->second;
}

void ConvRunner::Run(Entry& e, const std::vector<void*>& pointers) {
  for (size_t i = 0; i < e.args.size(); i++) e.args[i].user.set_data_handle(pointers[i]);
  // The blocked-layout buffers, one after another in the scratch area, each 64-byte aligned.
  constexpr size_t kAlign = 64;
  size_t needed = 0;
  for (const Arg& a : e.args) needed += (a.inner_bytes + kAlign - 1) / kAlign * kAlign;
  if (needed + kAlign > scratch_bytes_) {
    scratch_.reset(new uint8_t[needed + kAlign]);
    scratch_bytes_ = needed + kAlign;
  }
  uint8_t* at = scratch_.get() + (kAlign - reinterpret_cast<uintptr_t>(scratch_.get()) % kAlign) % kAlign;
  for (Arg& a : e.args) {
    if (a.inner_bytes == 0) continue;
    a.inner.set_data_handle(at);
    at += (a.inner_bytes + kAlign - 1) / kAlign * kAlign;
  }
  for (Arg& a : e.args) {
    if (!a.output && a.reorder) a.reorder.execute(stream_, {{DNNL_ARG_FROM, a.user}, {DNNL_ARG_TO, a.inner}});
  }
  e.primitive.execute(stream_, e.exec_args);
  for (Arg& a : e.args) {
    if (a.output && a.reorder) a.reorder.execute(stream_, {{DNNL_ARG_FROM, a.inner}, {DNNL_ARG_TO, a.user}});
  }
  stream_.wait();
}

void ConvRunner::Forward(const ConvGeometry& g, Layout layout, float* x, float* w, float* bias, bool relu, float* y) {
  Entry& e = Get(kForward, g, layout, bias != nullptr, relu);
  if (bias != nullptr) Run(e, {x, w, bias, y});
  else Run(e, {x, w, y});
}

void ConvRunner::BackwardData(const ConvGeometry& g, Layout layout, float* dy, float* w, float* dx) {
  Run(Get(kBackwardData, g, layout, false, false), {dy, w, dx});
}

void ConvRunner::BackwardWeights(const ConvGeometry& g, Layout layout, float* x, float* dy, float* dw, float* dbias) {
  Entry& e = Get(kBackwardWeights, g, layout, dbias != nullptr, false);
  if (dbias != nullptr) Run(e, {x, dy, dw, dbias});
  else Run(e, {x, dy, dw});
}

std::string ConvRunner::Implementation(int kind, const ConvGeometry& g, Layout layout) {
  return Get(kind, g, layout, false, false).implementation;
}

}  // namespace flatminima
