// graft/tensor/dtype.h: the element types a tensor can hold.
//
//   DType d = dtype_of<float>();   // DType::kFloat32
//   size_t n = dtype_size(d);      // 4
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace graft {

// The element type of a tensor (kCount: the number of dtypes, not a dtype).
enum class DType : uint8_t { kFloat32, kFloat64, kInt64, kCount };

// Throws InternalError for a value outside the enum (a corrupted or
// uninitialised DType): switches list every case and call it after the
// switch, so a new dtype is a -Wswitch warning and a bad one never passes as
// float32.
[[noreturn]] void throw_invalid_dtype(DType d, const char* where);

// Bytes per element; throws InternalError for a value outside the enum.
constexpr size_t dtype_size(DType d) {
  switch (d) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt64: return 8;
    case DType::kCount: break;
  }
  throw_invalid_dtype(d, "dtype_size");
}

// The name for messages; "invalid" for a value outside the enum (this one
// does not throw: it is called while building other errors' messages).
constexpr std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt64: return "int64";
    case DType::kCount: break;
  }
  return "invalid";
}

// float32 or float64.
constexpr bool is_floating(DType d) { return d == DType::kFloat32 || d == DType::kFloat64; }

// The DType of C++ type T: float, double or int64_t.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }

// Calls f with a value of the C++ type that `d` stands for:
//   visit_dtype(t.dtype(), [&]<typename T>(T) { fill<T>(t); });
template <typename F>
decltype(auto) visit_dtype(DType d, F&& f) {
  switch (d) {
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: return f(double{});
    case DType::kInt64: return f(int64_t{});
    case DType::kCount: break;
  }
  throw_invalid_dtype(d, "visit_dtype");
}

}  // namespace graft
