#include "graft/tensor/shape.h"

#include "graft/base/check.h"

namespace graft {

Shape::Shape(std::span<const int64_t> dims) {
  GRAFT_CHECK_AS(ShapeError, dims.size() <= static_cast<size_t>(kMaxRank), "rank ", dims.size(),
                 " is above the maximum of ", kMaxRank);
  for (int64_t d : dims) {
    GRAFT_CHECK_AS(ShapeError, d >= 0, "dimensions must be non-negative, got ", d);
    dims_.push_back(d);
  }
}

int64_t Shape::numel() const {
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

std::string Shape::to_string() const {
  std::string out = "[";
  for (int i = 0; i < rank(); ++i) {
    if (i) out += ", ";
    out += std::to_string(dims_[i]);
  }
  return out + "]";
}

std::ostream& operator<<(std::ostream& out, const Shape& shape) { return out << shape.to_string(); }

int normalize_axis(int64_t axis, int rank, std::string_view op) {
  int64_t a = axis < 0 ? axis + rank : axis;
  GRAFT_CHECK_AS(ShapeError, a >= 0 && a < rank, op, ": axis ", axis,
                 " is out of range for a tensor of rank ", rank, " (expected ", -rank, " <= axis < ",
                 rank, ")");
  return static_cast<int>(a);
}

}  // namespace graft
