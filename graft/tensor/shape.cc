#include "graft/tensor/shape.h"

#include "graft/base/check.h"
#include "graft/base/checked_size.h"

namespace graft {
namespace {

// Enforces the class invariant (see shape.h) on `dims`.
void check_dims(std::span<const int64_t> dims) {
  for (int64_t d : dims) {
    if (d < 0) [[unlikely]] {
      base::internal::throw_error<ShapeError>("dimensions must be non-negative, got ", d, " in ",
                                        Shape::dims_string(dims));
    }
  }
  if (!checked_product(dims)) [[unlikely]] {
    base::internal::throw_error<ShapeError>(
        "shape ", Shape::dims_string(dims),
        " is too large: the product of its dimensions does not fit in a 64-bit element count\n"
        "  help: check where these dimensions come from (a flag, a saved setting, a file header); "
        "no machine holds a tensor this size");
  }
}

}  // namespace

Shape::Shape(std::span<const int64_t> dims) {
  GRAFT_CHECK_AS(ShapeError, dims.size() <= static_cast<size_t>(kMaxRank), "rank ", dims.size(),
                 " is above the maximum of ", kMaxRank);
  check_dims(dims);
  for (int64_t d : dims) dims_.push_back(d);
}

void Shape::set_dim(int axis, int64_t value) {
  Dims changed = dims_;
  changed[axis] = value;
  check_dims(changed.span());
  dims_ = changed;
}

int64_t Shape::numel() const {
  // Cannot overflow: the product of the non-zero dimensions fits (invariant),
  // and so does every prefix of it; a zero keeps the rest at zero.
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;
  return n;
}

Dims Shape::strides() const {
  Dims strides;
  strides.resize(rank());
  int64_t s = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    strides[i] = s;
    s *= dims_[i];
  }
  return strides;
}

std::string Shape::dims_string(std::span<const int64_t> dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

std::string Shape::to_string() const { return dims_string(dims_.span()); }

std::ostream& operator<<(std::ostream& out, const Shape& shape) { return out << shape.to_string(); }

int normalize_axis(int64_t axis, int rank, std::string_view op) {
  int64_t a = axis < 0 ? axis + rank : axis;
  GRAFT_CHECK_AS(ShapeError, a >= 0 && a < rank, op, ": axis ", axis,
                 " is out of range for a tensor of rank ", rank, " (expected ", -rank, " <= axis < ",
                 rank, ")");
  return static_cast<int>(a);
}

}  // namespace graft
