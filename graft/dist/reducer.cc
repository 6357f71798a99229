#include "graft/dist/reducer.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "graft/dist/structure.h"
#include "graft/ops/ops.h"
#include "graft/tensor/simd.h"

namespace graft::dist {
namespace {

// A tensor over `bytes` bytes of `base`'s buffer starting at `offset_bytes`.
Tensor view_at(const Tensor& base, size_t offset_bytes, const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->offset_bytes = base.impl()->offset_bytes + offset_bytes;
  impl->shape = shape;
  impl->dtype = base.dtype();
  impl->id = next_tensor_id();
  return Tensor(std::move(impl));
}

// out[i] = in[i] * factor: each gradient is divided by the number of ranks on
// its way into the bucket, so the bucket is summed in place and no pass over
// it follows the reduction. Compiled for AVX2 too: this pass stands where a
// raw MPI_Allreduce of separate buffers copies its input into its output, and
// must cost no more than that copy.
GRAFT_TARGET_CLONES void scaled_copy_f32(const float* in, float* out, int64_t count, float factor) {
  for (int64_t i = 0; i < count; ++i) out[i] = in[i] * factor;
}
GRAFT_TARGET_CLONES void scaled_copy_f64(const double* in, double* out, int64_t count, double factor) {
  for (int64_t i = 0; i < count; ++i) out[i] = in[i] * factor;
}

void scaled_copy(const void* in, void* out, int64_t count, DType dtype, double factor) {
  if (dtype == DType::kFloat32) {
    scaled_copy_f32(static_cast<const float*>(in), static_cast<float*>(out), count, static_cast<float>(factor));
  } else {
    scaled_copy_f64(static_cast<const double*>(in), static_cast<double*>(out), count, factor);
  }
}

// Divides a summed bucket in place by the number of ranks (compiled steps).
void scale(void* data, int64_t count, DType dtype, double factor) { scaled_copy(data, data, count, dtype, factor); }

}  // namespace

struct GradientReducer::Bucket {
  struct Item {
    size_t index;    // into the caller's lists
    int64_t offset;  // elements into the bucket
    Shape shape;
  };
  DType dtype = DType::kFloat32;
  int64_t numel = 0;
  std::vector<Item> items;
  std::vector<std::string> paths;
  Variable buffer;  // made on the first compiled use
  Tensor result;    // the last eager reduction, reused once nobody holds a view of it
};

struct GradientReducer::Plan {
  std::vector<uint64_t> key;  // per input: variable id, and whether it has a gradient
  std::vector<Bucket> buckets;
};

GradientReducer::GradientReducer(const Comm& comm, ReducerOptions options)
    : comm_(comm), options_(std::move(options)), store_(options_.name()) {
  GRAFT_CHECK(options_.bucket_bytes() > 0, "dist::GradientReducer: bucket_bytes must be > 0");
}

GradientReducer::~GradientReducer() = default;

size_t GradientReducer::bucket_count() const { return plan_ ? plan_->buckets.size() : 0; }

std::string GradientReducer::describe() const {
  std::ostringstream out;
  if (!plan_) return "";
  for (size_t b = 0; b < plan_->buckets.size(); ++b) {
    const Bucket& bucket = plan_->buckets[b];
    out << "bucket " << b << ": " << bucket.numel * static_cast<int64_t>(dtype_size(bucket.dtype)) << " bytes "
        << dtype_name(bucket.dtype) << ":";
    for (const std::string& path : bucket.paths) out << " " << path;
    out << "\n";
  }
  return out.str();
}

GradientReducer::Plan& GradientReducer::plan_for(const std::vector<Variable>& vars,
                                                 const std::vector<std::optional<Tensor>>& grads) {
  std::vector<uint64_t> key;
  key.reserve(vars.size());
  for (size_t i = 0; i < vars.size(); ++i) key.push_back(vars[i].id() * 2 + (grads[i] ? 1 : 0));
  if (plan_ && plan_->key == key) return *plan_;

  std::vector<size_t> order;
  std::vector<Variable> reduced;
  for (size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i]) continue;
    GRAFT_CHECK_AS(DTypeError, vars[i].dtype() == DType::kFloat32 || vars[i].dtype() == DType::kFloat64,
                   "dist::GradientReducer: variable '", vars[i].path(), "' is ", dtype_name(vars[i].dtype()),
                   "; gradients are averaged only for float32 and float64 variables");
    order.push_back(i);
    reduced.push_back(vars[i]);
  }
  // The same list on every rank, or a clear error on every rank before any
  // bucket reaches MPI.
  check_structure(comm_, structure_of_variables(reduced), "when planning the gradient buckets");
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return vars[a].path() < vars[b].path(); });

  // The old plan's buffers leave the store, so compiled steps that used them recapture.
  if (plan_) {
    for (const Bucket& bucket : plan_->buckets) {
      if (bucket.buffer.defined()) store_.retire(bucket.buffer, "a new gradient bucket plan");
    }
  }
  auto plan = std::make_unique<Plan>();
  plan->key = std::move(key);
  for (size_t i : order) {
    const Variable& v = vars[i];
    const int64_t bytes = v.shape().numel() * static_cast<int64_t>(dtype_size(v.dtype()));
    bool fits = !plan->buckets.empty() && plan->buckets.back().dtype == v.dtype() &&
                (plan->buckets.back().numel * static_cast<int64_t>(dtype_size(v.dtype())) + bytes <=
                 static_cast<int64_t>(options_.bucket_bytes()));
    if (!fits) {
      plan->buckets.emplace_back();
      plan->buckets.back().dtype = v.dtype();
    }
    Bucket& bucket = plan->buckets.back();
    bucket.items.push_back({i, bucket.numel, v.shape()});
    bucket.paths.push_back(v.path());
    bucket.numel += v.shape().numel();
  }
  plan_ = std::move(plan);
  ++plans_built_;
  return *plan_;
}

void GradientReducer::reduce_eager(Bucket& bucket, const std::vector<std::optional<Tensor>>& grads,
                                   std::vector<std::optional<Tensor>>& out) {
  const size_t width = dtype_size(bucket.dtype);
  // The same buffer every step while the caller has let go of the last
  // step's gradients: MPI then reuses what it learned about the buffer (Open
  // MPI's large-message path costs milliseconds on a fresh one).
  Tensor& sum = bucket.result;
  if (!sum.defined() || sum.impl_ptr().use_count() > 1 || sum.impl()->storage.use_count() > 1) {
    sum = Tensor::empty({bucket.numel}, bucket.dtype);
  }
  // One pass packs every gradient, divided by the rank count, into the
  // buffer, which MPI then sums in place: no staging copy, no division pass
  // after the reduction. With a power-of-two rank count the division is exact,
  // so the result is the sum's average bit for bit.
  auto* base = static_cast<char*>(sum.raw_data());
  const double factor = 1.0 / comm_.size();
  for (const Bucket::Item& item : bucket.items) {
    const Tensor& g = *grads[item.index];
    scaled_copy(g.raw_data(), base + static_cast<size_t>(item.offset) * width, g.numel(), bucket.dtype, factor);
  }
  comm_.allreduce_sum(base, base, bucket.numel, bucket.dtype);
  for (const Bucket::Item& item : bucket.items) {
    out[item.index] = view_at(sum, static_cast<size_t>(item.offset) * width, item.shape);
  }
}

void GradientReducer::reduce_captured(Bucket& bucket, const std::vector<std::optional<Tensor>>& grads,
                                      std::vector<std::optional<Tensor>>& out) {
  if (!bucket.buffer.defined() || bucket.buffer.is_retired()) {
    const std::string name = "bucket_" + std::to_string(&bucket - plan_->buckets.data()) + "_plan_" +
                             std::to_string(plans_built_);
    bucket.buffer = store_.root().variable(name, {bucket.numel}, init::zeros(),
                                           VariableOptions().dtype(bucket.dtype).trainable(false));
  }
  std::vector<Tensor> flat;
  for (const Bucket::Item& item : bucket.items) flat.push_back(reshape(*grads[item.index], {-1}));
  bucket.buffer.assign(flat.size() == 1 ? flat[0] : concat(flat));
  // Runs at this point of every replay, after the pack above and before the
  // reads below (the executor keeps host calls and assigns in program order).
  host_call("allreduce " + bucket.buffer.path(),
            [&comm = comm_, buffer = bucket.buffer.raw_value(), numel = bucket.numel, dtype = bucket.dtype] {
              comm.allreduce_sum(buffer.raw_data(), buffer.raw_data(), numel, dtype);
              scale(buffer.raw_data(), numel, dtype, 1.0 / comm.size());
              buffer.bump_version();
            });
  Tensor reduced = bucket.buffer.value();
  for (const Bucket::Item& item : bucket.items) {
    Tensor part = bucket.items.size() == 1 ? reduced
                                           : slice(reduced, {item.offset}, {item.offset + item.shape.numel()});
    out[item.index] = reshape(part, item.shape);
  }
}

std::vector<std::optional<Tensor>> GradientReducer::average(const std::vector<Variable>& vars,
                                                            const std::vector<std::optional<Tensor>>& grads) {
  GRAFT_CHECK(vars.size() == grads.size(), "dist::GradientReducer::average: ", vars.size(), " variables but ",
              grads.size(), " gradients\n  help: pass the same list to tape.gradient() and average()");
  for (size_t i = 0; i < vars.size(); ++i) {
    GRAFT_CHECK_AS(ShapeError, !grads[i] || grads[i]->shape() == vars[i].shape(),
                   "dist::GradientReducer::average: the gradient for '", vars[i].path(), "' has shape ",
                   grads[i]->shape().to_string(), ", the variable ", vars[i].shape().to_string());
  }
  if (comm_.size() == 1) return grads;
  Plan& plan = plan_for(vars, grads);
  std::vector<std::optional<Tensor>> out(grads.size());
  const bool capturing = ops::internal::interceptor() != nullptr;
  for (Bucket& bucket : plan.buckets) {
    if (capturing) {
      reduce_captured(bucket, grads, out);
    } else {
      reduce_eager(bucket, grads, out);
    }
  }
  return out;
}

}  // namespace graft::dist
