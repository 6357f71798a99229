// graft/tensor/shape.h: the dimensions of a dense row-major tensor.
//
//   Shape s{32, 784};
//   s.rank();        // 2
//   s.numel();       // 25088
//   s.to_string();   // "[32, 784]"
//
// Invariant: the product of the non-zero dimensions fits in int64 (see
// checked_product), so numel(), strides() and any product of a subset of the
// dimensions never overflow. The constructor and set_dim enforce it with a
// ShapeError naming the shape.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>

#include "graft/base/inline_vector.h"

namespace graft {

// The largest rank a Shape holds.
inline constexpr int kMaxRank = 8;

// A list of small integers (axes, offsets) stored inline.
using Dims = InlineVector<int64_t, kMaxRank>;

// A tensor's dimensions (rank 0 to kMaxRank), checked on construction.
class Shape {
 public:
  // The shape of a scalar (rank 0), or the given dimensions (checked as the
  // span constructor does).
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}
  // Throws ShapeError for a negative dimension, a rank above kMaxRank, or
  // dimensions whose product overflows int64.
  explicit Shape(std::span<const int64_t> dims);
  explicit Shape(const Dims& dims) : Shape(dims.span()) {}

  // The number of dimensions, and dimension `axis` (0 <= axis < rank(),
  // unchecked).
  int rank() const { return dims_.size(); }
  int64_t operator[](int axis) const { return dims_[axis]; }
  // Sets one dimension; throws ShapeError as the constructor does (the shape
  // is unchanged then).
  void set_dim(int axis, int64_t value);
  int64_t numel() const;
  const int64_t* begin() const { return dims_.begin(); }
  const int64_t* end() const { return dims_.end(); }
  std::span<const int64_t> dims() const { return dims_.span(); }

  // Row-major strides in elements.
  Dims strides() const;
  std::string to_string() const;
  // "[2, 3]" for any list of dimensions (valid as a Shape or not), for messages.
  static std::string dims_string(std::span<const int64_t> dims);

  friend bool operator==(const Shape& a, const Shape& b) { return a.dims_ == b.dims_; }

 private:
  Dims dims_;
};

// Writes shape.to_string().
std::ostream& operator<<(std::ostream& out, const Shape& shape);

// Normalises a possibly negative axis (-1 is the last) and checks its range.
// `op` names the operation in the error message.
int normalize_axis(int64_t axis, int rank, std::string_view op);

}  // namespace graft
