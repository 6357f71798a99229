// graft/tensor/tensor.h: a dense, contiguous, row-major tensor with
// ref-counted storage.
//
//   Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
//   float* p = x.data<float>();       // throws DTypeError for another dtype
//   Tensor y = x;                     // shares storage (a handle copy)
//   Tensor z = x.clone();             // a deep copy
//
// Copying a Tensor copies a handle; the buffer lives while any handle or view
// does. Ops (graft/ops/ops.h) never write into their inputs. A tensor made
// while a graft::function is capturing may be *symbolic*: it has a shape and a
// dtype but no buffer until the captured graph runs; reading its data throws.
//
// Not thread-safe for concurrent writes to one tensor; distinct tensors may be
// used from distinct threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "graft/base/check.h"
#include "graft/tensor/dtype.h"
#include "graft/tensor/shape.h"

namespace graft {

// A buffer from the caching allocator, shared by a tensor and its views.
class Storage {
 public:
  // `nbytes` uninitialised bytes from the allocator, returned to it on
  // destruction.
  explicit Storage(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // The buffer and its size in bytes.
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

 protected:
  // Wraps a buffer the derived class owns (Tensor::empty's inline buffer for
  // tiny tensors); the destructor leaves it alone.
  struct Borrowed {};
  // Wraps `nbytes` at `data` without owning them.
  Storage(Borrowed, void* data, size_t nbytes) : data_(data), nbytes_(nbytes), owned_(false) {}

 private:
  void* data_;
  size_t nbytes_;
  bool owned_ = true;
};

// What a Tensor handle points at: a buffer, where the values start in it,
// the shape and dtype, and the identity tapes and captures key on.
struct TensorImpl {
  std::shared_ptr<Storage> storage;  // null for a symbolic tensor
  size_t offset_bytes = 0;           // where the values start in the storage
  Shape shape;                       // the dimensions
  DType dtype = DType::kFloat32;     // the element type
  uint64_t id = 0;       // unique for the life of the process, never reused
  uint64_t version = 0;  // moves on every in-place write
};

// A fresh id for a tensor impl.
uint64_t next_tensor_id();

// A handle to an n-dimensional array of one dtype (header comment): copies
// share the values; clone() copies them.
class Tensor {
 public:
  // An undefined tensor: defined() is false and any other call throws.
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // An uninitialised tensor with its own buffer.
  static Tensor empty(const Shape& shape, DType dtype = DType::kFloat32);
  // A placeholder with no buffer (graph capture).
  static Tensor symbolic(const Shape& shape, DType dtype);
  // A tensor sharing `base`'s buffer with another shape of the same numel.
  static Tensor view(const Tensor& base, const Shape& shape);
  // Copies `values` into a new tensor of `shape` (a 1-D shape when omitted).
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  // Copies `values` into a new 1-D tensor.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<int64_t>(values.size())});
  }
  // A 0-d tensor holding `value`.
  template <typename T>
  static Tensor scalar(T value) { return from_vector<T>({value}, Shape{}); }

  // Whether the handle points at a tensor; every other accessor throws
  // ValueError for an undefined one.
  bool defined() const { return impl_ != nullptr; }
  // The shape, dtype, rank and number of elements.
  const Shape& shape() const { return checked().shape; }
  DType dtype() const { return checked().dtype; }
  int rank() const { return shape().rank(); }
  int64_t numel() const { return shape().numel(); }
  // Size along `axis`; negative axes count from the end.
  int64_t dim(int64_t axis) const;
  size_t nbytes() const;
  uint64_t id() const { return checked().id; }
  uint64_t version() const { return checked().version; }
  bool is_symbolic() const { return checked().storage == nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // Typed access; throws DTypeError when T is not the tensor's dtype and
  // ValueError for a symbolic tensor.
  template <typename T>
  T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(raw_data());
  }
  // The first value's address, untyped; ValueError for a symbolic tensor.
  void* raw_data() const;

  // The single value of a one-element tensor, converted to T.
  template <typename T>
  T item() const;
  // All values, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // A new tensor with its own copy of the values.
  Tensor clone() const;
  // Copies `src` (same shape and dtype) into this tensor's buffer in place.
  void copy_from(const Tensor& src) const;
  // Marks an in-place write (tapes use it to detect stale saved tensors).
  void bump_version() const { ++checked().version; }

  // "Tensor([[1, 2], [3, 4]], shape=[2, 2], dtype=float32)", for printing;
  // "Tensor(undefined)" for an undefined one.
  std::string to_string() const;

 private:
  TensorImpl& checked() const {
    if (impl_ == nullptr) [[unlikely]] throw_undefined();
    return *impl_;
  }
  [[noreturn]] static void throw_undefined();
  void check_dtype(DType expected) const;

  std::shared_ptr<TensorImpl> impl_;
};

// Writes t.to_string().
std::ostream& operator<<(std::ostream& out, const Tensor& t);

// The bytes a tensor of `shape` and `dtype` holds. Throws ShapeError naming
// the shape when the count does not fit in int64 (so it fits in size_t too).
size_t nbytes_of(const Shape& shape, DType dtype);

// Throws ShapeError unless `t` has `expected` shape; `what` names the caller.
void check_shape(const Tensor& t, const Shape& expected, std::string_view what);

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  GRAFT_CHECK_AS(ShapeError, static_cast<int64_t>(values.size()) == shape.numel(),
                 "from_vector: ", values.size(), " values do not fill shape ", shape.to_string(),
                 " (", shape.numel(), " elements)");
  Tensor t = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}

template <typename T>
T Tensor::item() const {
  GRAFT_CHECK_AS(ShapeError, numel() == 1, "item() needs a tensor with one element, got shape ",
                 shape().to_string());
  return visit_dtype(dtype(), [&]<typename S>(S) { return static_cast<T>(*static_cast<const S*>(raw_data())); });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  std::vector<T> out(static_cast<size_t>(numel()));
  visit_dtype(dtype(), [&]<typename S>(S) {
    const S* p = static_cast<const S*>(raw_data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}

}  // namespace graft
