// Float32 convolutions on oneDNN, in builds with GRAFT_HAS_DNNL (conv.cc
// calls these first and runs im2col when they decline). oneDNN's JIT kernels
// (AVX-512 / AVX2) run the convolutions of a small CNN about twice as fast as
// im2col onto sgemm; LibTorch runs its convolutions on them too.
//
// Plans: each (pass, geometry, OpenMP threads) gets one, built once and kept
// in a small cache: the primitive, and the reorders between graft's plain
// NCHW / OIHW and the layouts the primitive chose. A geometry oneDNN refuses
// is cached as refused, so the fallback costs one lookup.
//
// Layouts: every pass asks for oneDNN's own (format_tag::any, channels
// blocked by 16 on AVX-512) and pays a reorder of each operand per call. On
// conv_b64's layer (32 -> 64 channels, 14 x 14, batch 64, one thread) that
// ran each pass in about 3.1 ms (150 GFLOP/s) against 6.6-7.9 ms on the
// plain layouts, whose kernels are gemm-based.
//
// Threads: graft's pool splits the images, as the im2col path does: each of
// graft::num_threads() threads runs its slice with one OpenMP thread, and
// grad_weight's slices sum their partial gradients. oneDNN's OpenMP pool then
// never starts, so no spinning OpenMP worker competes with graft's pool (on
// the shared 2-core machine, oneDNN's own 2-thread split ran conv_b64 at
// 231 ms against 29 ms for this one). Only a batch smaller than the thread
// count runs on oneDNN's pool, its thread count set to graft's first, since
// that pool is the only way to put several cores on one image.
//
// Memory: the primitive's scratchpad and the blocked copies live in
// per-thread buffers that are reused, so steady-state steps allocate nothing
// there; with scratchpad_mode::user, calls from several threads are safe.
//
// Sharing: conv2d's VJP runs grad_input and then grad_weight on the same
// grad_y, and both reorder it into the same blocked layout (a sixth of
// conv_b64's step went to reorders). Inside a ShareGradOutput scope the first
// keeps its blocked copy of each slice and the second reads it instead of
// reordering again.
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "graft/base/check.h"
#include "graft/ops/internal/conv.h"
#include "graft/tensor/parallel.h"

namespace graft::ops::internal {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

enum class ConvPass { kForward, kGradInput, kGradWeight };

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Sets the calling thread's OpenMP thread count for oneDNN's next calls. The
// runtime is loaded as oneDNN's dependency; its entry points are looked up
// rather than linked, so graft needs no OpenMP flags, and a oneDNN built on
// another runtime (TBB, a thread pool) still loads and sizes its own pool.
using OmpSet = void (*)(int);
using OmpGet = int (*)();
OmpSet omp_set() {
  static const auto set = reinterpret_cast<OmpSet>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  return set;
}
OmpGet omp_get() {
  static const auto get = reinterpret_cast<OmpGet>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  return get;
}

void set_openmp_threads(int n) {
  if (omp_set() != nullptr && omp_get() != nullptr && omp_get()() != n) omp_set()(n);
}

// Puts the calling thread's OpenMP thread count back as it was when it goes
// out of scope: a convolution leaves the application's own OpenMP code (or
// another library's) with the threads it had before.
class KeepOpenMpThreads {
 public:
  KeepOpenMpThreads() : saved_(omp_get() != nullptr ? omp_get()() : 0) {}
  ~KeepOpenMpThreads() {
    if (saved_ > 0) set_openmp_threads(saved_);
  }
  KeepOpenMpThreads(const KeepOpenMpThreads&) = delete;
  KeepOpenMpThreads& operator=(const KeepOpenMpThreads&) = delete;

 private:
  int saved_;
};

// One argument of a primitive: graft's layout, the primitive's, and the
// reorder between them (plain -> chosen for an input, chosen -> plain for
// the output) when they differ.
struct Operand {
  int arg = 0;
  memory::desc plain, chosen;
  std::optional<dnnl::reorder> reorder;
};

Operand operand(int arg, const memory::desc& plain) {
  Operand op;
  op.arg = arg;
  op.plain = plain;
  return op;
}

struct Plan {
  std::optional<dnnl::primitive> conv;  // none: oneDNN refused the geometry
  std::array<Operand, 3> operands;      // the two inputs, then the output
  std::optional<memory::desc> bias;     // the forward's bias [O], plain
  memory::desc scratchpad;              // the largest any of the primitives needs
};

// The memory descriptors of x, w and y in graft's layouts (or format_tag::any).
struct Descs {
  memory::desc x, w, y;
};

Descs descs(const ConvGeometry& g, bool any) {
  auto md = [](const memory::dims& dims, Tag tag) { return memory::desc(dims, memory::data_type::f32, tag); };
  const memory::dims w = g.groups == 1 ? memory::dims{g.o, g.cg, g.kh, g.kw}
                                       : memory::dims{g.groups, g.og, g.cg, g.kh, g.kw};  // OIHW split by group
  const Tag w_tag = g.groups == 1 ? Tag::oihw : Tag::goihw;
  return {md({g.n, g.c, g.h, g.w}, any ? Tag::any : Tag::nchw), md(w, any ? Tag::any : w_tag),
          md({g.n, g.o, g.oh, g.ow}, any ? Tag::any : Tag::nchw)};
}

// oneDNN counts dilation from 0 (no gaps), graft from 1.
struct Window {
  memory::dims strides, dilates, pad_l, pad_r;
};
Window window(const ConvGeometry& g) {
  const Window2d& v = g.win;
  return {{v.stride[0], v.stride[1]},
          {v.dilation[0] - 1, v.dilation[1] - 1},
          {v.pad_begin[0], v.pad_begin[1]},
          {v.pad_end[0], v.pad_end[1]}};
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void grow(memory::desc* scratchpad, const memory::desc& other) {
  if (other.get_size() > scratchpad->get_size()) *scratchpad = other;
}

// Fills plan from a primitive descriptor: the primitive, and the reorders
// of each operand whose chosen layout is not graft's.
template <typename Primitive>
void finish(Plan* plan, const typename Primitive::primitive_desc& pd) {
  plan->conv = Primitive(pd);
  plan->scratchpad = pd.scratchpad_desc();
  for (size_t i = 0; i < plan->operands.size(); ++i) {
    Operand& op = plan->operands[i];
    op.chosen = pd.query_md(dnnl::query::exec_arg_md, op.arg);
    if (op.chosen == op.plain) continue;
    const bool input = i < 2;
    dnnl::reorder::primitive_desc r(cpu_engine(), input ? op.plain : op.chosen, cpu_engine(),
                                    input ? op.chosen : op.plain, user_scratchpad());
    grow(&plan->scratchpad, r.scratchpad_desc());
    op.reorder = dnnl::reorder(r);
  }
}

// Both backward passes are described by the same arguments, and take the
// forward pass's descriptor as a hint.
template <typename Backward>
void finish_backward(Plan* plan, const Descs& want, const Window& v, const dnnl::primitive_attr& attr,
                     const dnnl::convolution_forward::primitive_desc& forward) {
  finish<Backward>(plan, typename Backward::primitive_desc({dnnl::algorithm::convolution_direct, want.x, want.w,
                                                            want.y, v.strides, v.dilates, v.pad_l, v.pad_r},
                                                           attr, cpu_engine(), forward));
}

// `bias`: the forward adds a bias [O] to its output (oneDNN adds it as the
// output is written, where a separate pass would read and write it again).
Plan build_plan(ConvPass pass, const ConvGeometry& g, bool bias) {
  const Descs plain = descs(g, false);
  const Descs want = descs(g, /*any=*/true);
  const Window v = window(g);
  const dnnl::primitive_attr attr = user_scratchpad();
  const memory::desc bias_desc({g.o}, memory::data_type::f32, Tag::x);
  Plan plan;
  try {
    const dnnl::convolution_forward::primitive_desc forward(
        {dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, want.x, want.w, want.y, v.strides,
         v.dilates, v.pad_l, v.pad_r},
        attr, cpu_engine());
    switch (pass) {
      case ConvPass::kForward:
        plan.operands = {operand(DNNL_ARG_SRC, plain.x), operand(DNNL_ARG_WEIGHTS, plain.w),
                         operand(DNNL_ARG_DST, plain.y)};
        if (!bias) {
          finish<dnnl::convolution_forward>(&plan, forward);
          break;
        }
        plan.bias = bias_desc;
        finish<dnnl::convolution_forward>(
            &plan, dnnl::convolution_forward::primitive_desc(
                       {dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, want.x, want.w,
                        bias_desc, want.y, v.strides, v.dilates, v.pad_l, v.pad_r},
                       attr, cpu_engine()));
        break;
      case ConvPass::kGradInput:
        plan.operands = {operand(DNNL_ARG_DIFF_DST, plain.y), operand(DNNL_ARG_WEIGHTS, plain.w),
                         operand(DNNL_ARG_DIFF_SRC, plain.x)};
        finish_backward<dnnl::convolution_backward_data>(&plan, want, v, attr, forward);
        break;
      case ConvPass::kGradWeight:
        plan.operands = {operand(DNNL_ARG_SRC, plain.x), operand(DNNL_ARG_DIFF_DST, plain.y),
                         operand(DNNL_ARG_DIFF_WEIGHTS, plain.w)};
        finish_backward<dnnl::convolution_backward_weights>(&plan, want, v, attr, forward);
        break;
    }
  } catch (const dnnl::error&) {
    plan = Plan{};  // refused: conv.cc runs im2col
  }
  return plan;
}

// Plans by (pass, geometry, threads). A training run meets a few geometries
// per layer; the cache is emptied when it reaches kMaxPlans (after growth
// left many behind), and rebuilt as calls come.
constexpr size_t kMaxPlans = 256;
using PlanKey = std::array<int64_t, 19>;

std::shared_ptr<const Plan> find_plan(ConvPass pass, const ConvGeometry& g, bool bias, int threads) {
  static std::mutex mutex;
  static std::map<PlanKey, std::shared_ptr<const Plan>> plans;
  const Window2d& v = g.win;
  const PlanKey key{static_cast<int64_t>(pass), g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.groups, v.stride[0],
                    v.stride[1], v.pad_begin[0], v.pad_begin[1], v.pad_end[0], v.pad_end[1], v.dilation[0],
                    v.dilation[1], threads, bias ? 1 : 0};
  std::lock_guard lock(mutex);
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  if (plans.size() >= kMaxPlans) plans.clear();  // running calls keep their plans alive
  return plans.emplace(key, std::make_shared<const Plan>(build_plan(pass, g, bias))).first->second;
}

// A 64-byte-aligned buffer that grows and is reused.
class Buffer {
 public:
  void* get(size_t bytes) {
    if (bytes > size_) {
      data_.reset(static_cast<std::byte*>(::operator new(bytes, std::align_val_t{64})));
      size_ = bytes;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t size_ = 0;
};

// One slice's blocked copy of grad_y, kept by grad_input for grad_weight.
struct SharedSlice {
  Buffer buffer;
  std::optional<memory::desc> chosen;  // the layout it holds; none: nothing kept
};

// The calling thread's ShareGradOutput scope: the grad_y it covers, and one
// kept slice per part of the split (parts: how many grad_input used).
struct GradOutputShare {
  const float* grad_y = nullptr;
  int64_t parts = 0;
  std::vector<SharedSlice> slices;
};
thread_local GradOutputShare* active_share = nullptr;

std::atomic<int64_t> shared_reorders{0};

// What execute() does with grad_y for the share: keep its blocked copy in
// `slice` (grad_input), or read it from there (grad_weight).
struct SliceUse {
  SharedSlice* slice = nullptr;
  bool keep = false;
  int operand = 0;  // which of the plan's inputs is grad_y
};

// Runs a plan on the calling thread: a, b and out in graft's layouts; `bias`
// the forward's bias when the plan has one.
void execute(const Plan& plan, const float* a, const float* b, const float* bias, float* out,
             const SliceUse& share = {}) {
  thread_local std::array<Buffer, 4> buffers;  // one per operand, then the scratchpad
  thread_local dnnl::stream stream(cpu_engine());
  const dnnl::engine& engine = cpu_engine();
  const memory scratchpad(plan.scratchpad, engine, buffers[3].get(plan.scratchpad.get_size()));
  std::unordered_map<int, memory> args{{DNNL_ARG_SCRATCHPAD, scratchpad}};
  if (plan.bias) args.emplace(DNNL_ARG_BIAS, memory(*plan.bias, engine, const_cast<float*>(bias)));
  void* user[3] = {const_cast<float*>(a), const_cast<float*>(b), out};  // oneDNN only reads the inputs
  std::optional<memory> output_user, output_chosen;
  for (size_t i = 0; i < 3; ++i) {
    const Operand& op = plan.operands[i];
    const memory plain(op.plain, engine, user[i]);
    if (!op.reorder) {
      args.emplace(op.arg, plain);
      continue;
    }
    SharedSlice* slice = share.slice != nullptr && static_cast<int>(i) == share.operand ? share.slice : nullptr;
    if (slice != nullptr && !share.keep && slice->chosen == op.chosen) {
      args.emplace(op.arg, memory(op.chosen, engine, slice->buffer.get(op.chosen.get_size())));
      shared_reorders.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    Buffer& buffer = slice != nullptr && share.keep ? slice->buffer : buffers[i];
    const memory chosen(op.chosen, engine, buffer.get(op.chosen.get_size()));
    if (i < 2) {
      op.reorder->execute(stream, {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, chosen}, {DNNL_ARG_SCRATCHPAD, scratchpad}});
      if (slice != nullptr && share.keep) slice->chosen = op.chosen;
    } else {
      output_user = plain;
      output_chosen = chosen;
    }
    args.emplace(op.arg, chosen);
  }
  plan.conv->execute(stream, args);
  if (output_user) {
    plan.operands[2].reorder->execute(
        stream, {{DNNL_ARG_FROM, *output_chosen}, {DNNL_ARG_TO, *output_user}, {DNNL_ARG_SCRATCHPAD, scratchpad}});
  }
  stream.wait();
}

// Multiply-adds per thread below which splitting a convolution does not pay
// (about 0.1 ms of one core), as graft's gemm splits (graft/tensor/blas.cc).
constexpr int64_t kConvGrain = int64_t{1} << 20;

int useful_threads(const ConvGeometry& g) {
  const int64_t macs = g.n * g.o * g.p() * g.k();
  return static_cast<int>(std::clamp<int64_t>(macs / kConvGrain, 1, num_threads()));
}

// The images of part p of `parts`: [first, first + count).
struct Slice {
  int64_t first, count;
};
Slice slice(const ConvGeometry& g, int64_t p, int64_t parts) {
  const int64_t first = g.n * p / parts;
  return {first, g.n * (p + 1) / parts - first};
}

// The calling thread's share when a ShareGradOutput scope covers this pass's
// grad_y, set up for `parts` parts: grad_input (re)starts it, grad_weight
// uses it only if its split matches the one grad_input kept. Call it on the
// calling thread, before the pool runs the parts (the scope is thread-local).
GradOutputShare* share_for(ConvPass pass, const float* a, const float* b, int64_t parts) {
  GradOutputShare* share = active_share;
  const float* grad_y = pass == ConvPass::kGradInput ? a : pass == ConvPass::kGradWeight ? b : nullptr;
  if (share == nullptr || grad_y == nullptr || grad_y != share->grad_y) return nullptr;
  if (pass == ConvPass::kGradInput) {
    share->parts = parts;
    if (static_cast<int64_t>(share->slices.size()) < parts) share->slices.resize(static_cast<size_t>(parts));
    for (SharedSlice& slice : share->slices) slice.chosen.reset();
    return share;
  }
  return share->parts == parts ? share : nullptr;
}

// What part p does with `share` (see SliceUse).
SliceUse slice_use(GradOutputShare* share, ConvPass pass, int64_t p) {
  if (share == nullptr) return {};
  const bool keep = pass == ConvPass::kGradInput;
  return {&share->slices[static_cast<size_t>(p)], keep, /*operand=*/keep ? 0 : 1};
}

// Splits the images over graft's threads, each running oneDNN on its slice
// with one OpenMP thread; grad_weight's parts sum into per-part partials.
bool run_split(ConvPass pass, const ConvGeometry& g, int64_t parts, const float* a, const float* b, const float* bias,
               float* out) {
  // At most two slice sizes; both plans first, so a refusal changes nothing.
  std::array<std::shared_ptr<const Plan>, 2> plans;
  const int64_t small = g.n / parts;
  set_openmp_threads(1);  // oneDNN sizes a primitive's split when it is built
  for (int64_t i = 0; i < 2; ++i) {
    ConvGeometry s = g;
    s.n = small + i;
    if (s.n == 0) continue;
    plans[i] = find_plan(pass, s, bias != nullptr, 1);
    if (!plans[i]->conv) return false;
  }
  const int64_t x_image = g.c * g.h * g.w, y_image = g.o * g.p(), w_size = g.o * g.k();
  GradOutputShare* share = share_for(pass, a, b, parts);
  thread_local Buffer partial_buffer;
  float* partials = pass == ConvPass::kGradWeight
                        ? static_cast<float*>(partial_buffer.get(sizeof(float) * (parts - 1) * w_size))
                        : nullptr;
  parallel_for(0, parts, 1, [&](int64_t first_part, int64_t last_part) {
    set_openmp_threads(1);
    for (int64_t p = first_part; p < last_part; ++p) {
      const Slice s = slice(g, p, parts);
      const Plan& plan = *plans[s.count - small];
      switch (pass) {
        case ConvPass::kForward:
          execute(plan, a + s.first * x_image, b, bias, out + s.first * y_image);
          break;
        case ConvPass::kGradInput:
          execute(plan, a + s.first * y_image, b, nullptr, out + s.first * x_image, slice_use(share, pass, p));
          break;
        case ConvPass::kGradWeight:
          execute(plan, a + s.first * x_image, b + s.first * y_image, nullptr,
                  p == 0 ? out : partials + (p - 1) * w_size, slice_use(share, pass, p));
          break;
      }
    }
  });
  for (int64_t p = 1; p < parts && partials != nullptr; ++p) {
    const float* src = partials + (p - 1) * w_size;
    for (int64_t i = 0; i < w_size; ++i) out[i] += src[i];
  }
  return true;
}

std::atomic<int64_t> runs{0};

// Runs `pass` of g with inputs a, b (and the forward's bias, or null) into
// out; false when oneDNN declined.
bool run(ConvPass pass, const ConvGeometry& g, const float* a, const float* b, const float* bias, float* out) {
  if (g.empty()) return false;
  const int threads = useful_threads(g);
  const KeepOpenMpThreads keep;
  try {
    if (std::min<int64_t>(threads, g.n) > 1) {
      if (!run_split(pass, g, std::min<int64_t>(threads, g.n), a, b, bias, out)) return false;
    } else {
      set_openmp_threads(threads);
      const std::shared_ptr<const Plan> plan = find_plan(pass, g, bias != nullptr, threads);
      if (!plan->conv) return false;
      execute(*plan, a, b, bias, out, slice_use(share_for(pass, a, b, 1), pass, 0));
    }
  } catch (const dnnl::error& e) {
    base::internal::throw_error<InternalError>(
        "conv2d: oneDNN failed on input [", g.n, ", ", g.c, ", ", g.h, ", ", g.w, "] and weight [", g.o, ", ", g.cg,
        ", ", g.kh, ", ", g.kw, "]: ", e.what(),
        "\n  help: GRAFT_CONV_BACKEND=im2col runs convolutions without oneDNN; please report this");
  }
  runs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

bool dnnl_conv_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  return run(ConvPass::kForward, g, x, w, bias, y);
}

bool dnnl_conv_grad_input(const ConvGeometry& g, const float* dy, const float* w, const float*, float* dx) {
  return run(ConvPass::kGradInput, g, dy, w, nullptr, dx);
}

bool dnnl_conv_grad_weight(const ConvGeometry& g, const float* x, const float* dy, const float*, float* dw) {
  return run(ConvPass::kGradWeight, g, x, dy, nullptr, dw);
}

int64_t dnnl_conv_runs() { return runs.load(std::memory_order_relaxed); }

int64_t dnnl_shared_reorders() { return shared_reorders.load(std::memory_order_relaxed); }

ShareGradOutput::ShareGradOutput(const float* grad_y) {
  // One share per thread, kept between scopes so its buffers are reused.
  thread_local GradOutputShare share;
  if (active_share != nullptr) return;  // an outer scope on this thread keeps the share; this one does nothing
  share.grad_y = grad_y;
  share.parts = 0;
  active_share = &share;
  owner_ = true;
}

ShareGradOutput::~ShareGradOutput() {
  if (!owner_) return;
  active_share->grad_y = nullptr;
  active_share = nullptr;
}

}  // namespace graft::ops::internal
