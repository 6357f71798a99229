#include "graft/tensor/tensor.h"

#include <cmath>
#include <sstream>

#include "graft/base/checked_size.h"
#include "graft/tensor/allocator.h"
#include "graft/tensor/parallel.h"

namespace graft {

Storage::Storage(size_t nbytes) : data_(allocate_buffer(nbytes)), nbytes_(nbytes) {}
Storage::~Storage() {
  if (owned_) free_buffer(data_, nbytes_);
}

namespace {

// Tiny tensors (scalars, learning rates, loss values) keep their bytes in the
// storage's own allocation: one malloc instead of a trip through the caching
// allocator's lock. Still 64-byte aligned, as every tensor buffer is.
constexpr size_t kInlineBytes = 64;

class InlineStorage final : public Storage {
 public:
  explicit InlineStorage(size_t nbytes) : Storage(Borrowed{}, aligned(bytes_), nbytes) {}

 private:
  // Over-aligning the class would send make_shared to aligned new (memalign,
  // several times slower than malloc); align inside the buffer instead.
  static void* aligned(unsigned char* p) {
    auto address = reinterpret_cast<uintptr_t>(p);
    return p + ((kTensorAlignment - address % kTensorAlignment) % kTensorAlignment);
  }
  unsigned char bytes_[kInlineBytes + kTensorAlignment];
};

std::shared_ptr<Storage> make_storage(size_t nbytes) {
  if (nbytes <= kInlineBytes) return std::make_shared<InlineStorage>(nbytes);
  return std::make_shared<Storage>(nbytes);
}

}  // namespace

uint64_t next_tensor_id() {
  static std::atomic<uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = make_storage(nbytes_of(shape, dtype));
  impl->shape = shape;
  impl->dtype = dtype;
  impl->id = next_tensor_id();
  return Tensor(std::move(impl));
}

Tensor Tensor::symbolic(const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->id = next_tensor_id();
  return Tensor(std::move(impl));
}

Tensor Tensor::view(const Tensor& base, const Shape& shape) {
  GRAFT_CHECK_AS(ShapeError, base.numel() == shape.numel(), "view: cannot view a tensor of shape ",
                 base.shape().to_string(), " (", base.numel(), " elements) as ", shape.to_string(),
                 " (", shape.numel(), " elements)");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl_->storage;
  impl->offset_bytes = base.impl_->offset_bytes;
  impl->shape = shape;
  impl->dtype = base.dtype();
  impl->id = next_tensor_id();
  return Tensor(std::move(impl));
}

size_t nbytes_of(const Shape& shape, DType dtype) {
  std::optional<int64_t> n = checked_mul(shape.numel(), static_cast<int64_t>(dtype_size(dtype)));
  GRAFT_CHECK_AS(ShapeError, n.has_value(), "a ", dtype_name(dtype), " tensor of shape ", shape.to_string(),
                 " would need more than 2^63 bytes\n  help: check where these dimensions come from; "
                 "no machine holds a tensor this size");
  return static_cast<size_t>(*n);
}

size_t Tensor::nbytes() const { return nbytes_of(shape(), dtype()); }

int64_t Tensor::dim(int64_t axis) const { return shape()[normalize_axis(axis, rank(), "dim")]; }

void* Tensor::raw_data() const {
  const TensorImpl& impl = checked();
  GRAFT_CHECK(impl.storage != nullptr, "tensor ", impl.shape.to_string(), " ", dtype_name(impl.dtype),
              " is symbolic: it stands for a value inside a graft::function capture and has no data yet\n"
              "  help: read values outside the captured function, or return the tensor from it");
  return static_cast<char*>(impl.storage->data()) + impl.offset_bytes;
}

void Tensor::throw_undefined() {
  base::internal::throw_error<ValueError>(
      "use of an undefined tensor (a default-constructed graft::Tensor)\n"
      "  help: create it with Tensor::empty, Tensor::from_vector or an op first");
}

void Tensor::check_dtype(DType expected) const {
  GRAFT_CHECK_AS(DTypeError, dtype() == expected, "tensor has dtype ", dtype_name(dtype()),
                 ", but was accessed as ", dtype_name(expected));
}

namespace {

// Bytes per task below which a copy stays on the calling thread.
constexpr int64_t kCopyGrain = int64_t{1} << 17;

// Copies n bytes, split across the pool when the ranges are large and apart
// (a parameter update or a snapshot is a megabyte or more); overlapping
// ranges are moved on one thread.
void copy_bytes(void* dst, const void* src, size_t n) {
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  if (d < s + n && s < d + n) {
    std::memmove(d, s, n);
    return;
  }
  parallel_for(0, static_cast<int64_t>(n), kCopyGrain,
               [=](int64_t begin, int64_t end) { std::memcpy(d + begin, s + begin, static_cast<size_t>(end - begin)); });
}

}  // namespace

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  if (nbytes() > 0) copy_bytes(out.raw_data(), raw_data(), nbytes());
  return out;
}

void Tensor::copy_from(const Tensor& src) const {
  GRAFT_CHECK_AS(ShapeError, src.shape() == shape(), "copy_from: expected shape ", shape().to_string(),
                 ", got ", src.shape().to_string());
  GRAFT_CHECK_AS(DTypeError, src.dtype() == dtype(), "copy_from: expected dtype ", dtype_name(dtype()),
                 ", got ", dtype_name(src.dtype()));
  if (src.raw_data() != raw_data() && nbytes() > 0) copy_bytes(raw_data(), src.raw_data(), nbytes());
  bump_version();
}

void check_shape(const Tensor& t, const Shape& expected, std::string_view what) {
  GRAFT_CHECK_AS(ShapeError, t.shape() == expected, what, ": expected shape ", expected.to_string(),
                 ", got ", t.shape().to_string());
}

namespace {

// Prints at most kEdge values from each end of every axis.
constexpr int64_t kEdge = 3;

template <typename T>
void print_values(std::ostream& out, const T* data, const Shape& shape, int axis, int64_t offset,
                  const Dims& strides) {
  if (shape.rank() == 0) {
    out << +data[0];
    return;
  }
  out << "[";
  int64_t n = shape[axis];
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * kEdge && i == kEdge) {
      out << "..., ";
      i = n - kEdge;
    }
    if (axis + 1 == shape.rank()) {
      out << +data[offset + i * strides[axis]];
    } else {
      print_values(out, data, shape, axis + 1, offset + i * strides[axis], strides);
    }
    if (i + 1 < n) out << ", ";
  }
  out << "]";
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream out;
  out << "Tensor(";
  if (is_symbolic()) {
    out << "symbolic";
  } else {
    visit_dtype(dtype(), [&]<typename T>(T) {
      print_values(out, static_cast<const T*>(raw_data()), shape(), 0, 0, shape().strides());
    });
  }
  out << ", shape=" << shape().to_string() << ", dtype=" << dtype_name(dtype()) << ")";
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) { return out << t.to_string(); }

}  // namespace graft
