// Creation ops without inputs: arange and the seeded random fills. The random
// kernels call graft/tensor/random.h, the one PRNG of the project, so a tensor
// drawn here equals the same draw made by an initializer with the same seed.
#include <cmath>

#include "graft/ops/internal/kernels.h"
#include "graft/tensor/random.h"

namespace graft::ops::internal {

TensorMeta infer_arange(const OpDef& def, std::span<const Tensor>, const OpAttrs& attrs) {
  GRAFT_CHECK(attrs.step != 0.0 && std::isfinite(attrs.step), def.name, ": step must be finite and non-zero, got ",
              attrs.step);
  GRAFT_CHECK(std::isfinite(attrs.start) && std::isfinite(attrs.stop), def.name, ": start and stop must be finite, got ",
              attrs.start, " and ", attrs.stop);
  // The count of i >= 0 with start + i * step on the near side of stop.
  const double count = std::ceil((attrs.stop - attrs.start) / attrs.step);
  GRAFT_CHECK(count < 1e15, def.name, ": ", count, " values from ", attrs.start, " to ", attrs.stop, " by ",
              attrs.step, " are too many");
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  if (attrs.dtype == DType::kInt64 && n > 0) {
    // The values are monotonic, so the first and the last bound them all.
    const double last = attrs.start + static_cast<double>(n - 1) * attrs.step;
    GRAFT_CHECK(fits_int64(attrs.start) && fits_int64(last), def.name, ": values from ", attrs.start, " to ",
                last, " do not fit int64 (expected values in [-2^63, 2^63))",
                "\n  help: use a float dtype for larger values");
  }
  return {Shape{n}, attrs.dtype};
}

void arange_forward(std::span<const Tensor>, const Tensor& out, const OpAttrs& attrs) {
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    T* p = out.data<T>();
    for (int64_t i = 0, n = out.numel(); i < n; ++i) p[i] = static_cast<T>(attrs.start + static_cast<double>(i) * attrs.step);
  });
}

TensorMeta infer_random(const OpDef& def, std::span<const Tensor>, const OpAttrs& attrs) {
  GRAFT_CHECK_AS(DTypeError, is_floating(attrs.dtype), def.name, ": dtype must be float32 or float64, got ",
                 dtype_name(attrs.dtype));
  if (def.kind == OpKind::kRandomUniform) {
    GRAFT_CHECK(attrs.low <= attrs.high, def.name, ": expected low <= high, got low ", attrs.low, " and high ",
                attrs.high);
    // Infinite bounds drew NaN silently (random_uniform(-inf, inf) was all NaN).
    GRAFT_CHECK(std::isfinite(attrs.low) && std::isfinite(attrs.high), def.name, ": expected finite bounds, got low ",
                attrs.low, " and high ", attrs.high);
  } else {
    GRAFT_CHECK(attrs.stddev >= 0.0, def.name, ": expected stddev >= 0, got ", attrs.stddev);
    // An infinite stddev or mean drew +-inf or NaN silently.
    GRAFT_CHECK(std::isfinite(attrs.stddev) && std::isfinite(attrs.mean), def.name,
                ": expected a finite mean and stddev, got mean ", attrs.mean, " and stddev ", attrs.stddev);
  }
  return {attrs.shape, attrs.dtype};
}

namespace {

// Calls fill(pointer) with out's buffer typed as float or double.
template <typename Fill>
void fill_floating(const Tensor& out, std::string_view op, Fill fill) {
  visit_floating(out.dtype(), op, [&]<typename T>(T) { fill(out.data<T>()); });
}

}  // namespace

void random_uniform_forward(std::span<const Tensor>, const Tensor& out, const OpAttrs& attrs) {
  fill_floating(out, op_name(OpKind::kRandomUniform),
                [&](auto* p) { fill_uniform(p, out.numel(), attrs.seed, attrs.low, attrs.high); });
}

void random_normal_forward(std::span<const Tensor>, const Tensor& out, const OpAttrs& attrs) {
  fill_floating(out, op_name(OpKind::kRandomNormal),
                [&](auto* p) { fill_normal(p, out.numel(), attrs.seed, attrs.mean, attrs.stddev); });
}

void truncated_normal_forward(std::span<const Tensor>, const Tensor& out, const OpAttrs& attrs) {
  fill_floating(out, op_name(OpKind::kTruncatedNormal),
                [&](auto* p) { fill_truncated_normal(p, out.numel(), attrs.seed, attrs.mean, attrs.stddev); });
}

}  // namespace graft::ops::internal
