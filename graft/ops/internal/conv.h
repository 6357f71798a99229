// graft/ops/internal/conv.h: the geometry of one convolution, and which
// kernels run it: im2col onto OpenBLAS gemm (conv.cc), or oneDNN
// (conv_dnnl.cc) for float32 in a build with GRAFT_HAS_DNNL. Not a public
// header.
//
//   ScopedConvBackend im2col(ConvBackend::kIm2col);  // tests: compare the two
#pragma once

#include <algorithm>
#include <cstdint>

#include "graft/ops/op_table.h"
#include "graft/version.h"

namespace graft::ops::internal {

// Column-buffer elements per thread of the im2col kernels: 1 Mi (4 MiB in float32).
inline constexpr int64_t kColumnBudget = int64_t{1} << 20;

// One convolution of x [N, C, H, W] with w [O, C/groups, KH, KW] into
// y [N, O, OH, OW], all contiguous; checked and built by conv.cc.
struct ConvGeometry {
  int64_t n, c, h, w;      // input
  int64_t o, kh, kw;       // weight
  int64_t oh, ow;          // output
  int64_t groups, cg, og;  // groups, input and output channels per group
  Window2d win;

  int64_t k() const { return cg * kh * kw; }
  int64_t p() const { return oh * ow; }
  bool empty() const { return n == 0 || c == 0 || o == 0 || oh == 0 || ow == 0; }
  bool direct() const {  // col == x: no im2col needed
    return kh == 1 && kw == 1 && win.stride[0] == 1 && win.stride[1] == 1 && win.pad_begin[0] == 0 &&
           win.pad_begin[1] == 0 && win.pad_end[0] == 0 && win.pad_end[1] == 0;
  }
  // Output rows per tile so that a [K, rows * OW] column buffer fits the budget.
  int64_t tile_rows() const { return std::clamp<int64_t>(kColumnBudget / std::max<int64_t>(1, k() * ow), 1, oh); }
};

// Which kernels run float32 convolutions (float64 always runs im2col).
enum class ConvBackend {
  kAuto,    // oneDNN where the build has it and it accepts the geometry, else im2col
  kIm2col,  // im2col onto OpenBLAS gemm only
};

// The backend of every later convolution in the process. Starts as kAuto, or
// kIm2col when the environment has GRAFT_CONV_BACKEND=im2col. Thread-safe
// (an atomic); a convolution running while it changes may use either.
void set_conv_backend(ConvBackend backend);
ConvBackend conv_backend();

// Sets the backend for a scope and restores the previous one (tests).
class ScopedConvBackend {
 public:
  explicit ScopedConvBackend(ConvBackend backend) : saved_(conv_backend()) { set_conv_backend(backend); }
  ~ScopedConvBackend() { set_conv_backend(saved_); }
  ScopedConvBackend(const ScopedConvBackend&) = delete;
  ScopedConvBackend& operator=(const ScopedConvBackend&) = delete;

 private:
  ConvBackend saved_;
};

#if GRAFT_HAS_DNNL
// oneDNN kernels (conv_dnnl.cc), float32, contiguous NCHW / OIHW, images
// split over graft's threads. Each returns false without writing when oneDNN
// refuses the geometry or it is empty (the caller then runs im2col); throws
// InternalError if oneDNN fails while running. `bias` [O] is added to the
// forward's output (null: none); the gradients take none (pass null).
// Thread-safe; call them outside graft's parallel_for.
bool dnnl_conv_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y);
bool dnnl_conv_grad_input(const ConvGeometry& g, const float* dy, const float* w, const float* bias, float* dx);
bool dnnl_conv_grad_weight(const ConvGeometry& g, const float* x, const float* dy, const float* bias, float* dw);
// How many convolutions oneDNN has run in this process (tests check that the
// path they compare was taken).
int64_t dnnl_conv_runs();
// Within this scope, on the calling thread, dnnl_conv_grad_input keeps its
// blocked copy of `grad_y` and a later dnnl_conv_grad_weight on the same
// grad_y (same geometry and split) reads it instead of reordering again.
// The caller promises that nothing writes grad_y while the scope lasts
// (conv2d's VJP: the two passes run back to back). A scope opened inside
// another on the same thread does nothing.
class ShareGradOutput {
 public:
  explicit ShareGradOutput(const float* grad_y);
  ~ShareGradOutput();
  ShareGradOutput(const ShareGradOutput&) = delete;
  ShareGradOutput& operator=(const ShareGradOutput&) = delete;

 private:
  bool owner_ = false;
};
// How many grad_weight passes read a blocked grad_y that grad_input kept.
int64_t dnnl_shared_reorders();
#else
// Without oneDNN every convolution runs im2col.
inline bool dnnl_conv_forward(const ConvGeometry&, const float*, const float*, const float*, float*) { return false; }
inline bool dnnl_conv_grad_input(const ConvGeometry&, const float*, const float*, const float*, float*) {
  return false;
}
inline bool dnnl_conv_grad_weight(const ConvGeometry&, const float*, const float*, const float*, float*) {
  return false;
}
inline int64_t dnnl_conv_runs() { return 0; }
class ShareGradOutput {
 public:
  explicit ShareGradOutput(const float*) {}
};
inline int64_t dnnl_shared_reorders() { return 0; }
#endif

}  // namespace graft::ops::internal
