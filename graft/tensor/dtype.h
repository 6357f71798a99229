// graft/tensor/dtype.h: the element types a tensor can hold.
//
//   DType d = dtype_of<float>();   // DType::kFloat32
//   size_t n = dtype_size(d);      // 4
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace graft {

enum class DType : uint8_t { kFloat32, kFloat64, kInt64, kCount };

constexpr size_t dtype_size(DType d) {
  switch (d) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt64: return 8;
    default: return 0;
  }
}

constexpr std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt64: return "int64";
    default: return "invalid";
  }
}

constexpr bool is_floating(DType d) { return d == DType::kFloat32 || d == DType::kFloat64; }

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }

// Calls f with a value of the C++ type that `d` stands for:
//   visit_dtype(t.dtype(), [&]<typename T>(T) { fill<T>(t); });
template <typename F>
decltype(auto) visit_dtype(DType d, F&& f) {
  switch (d) {
    case DType::kFloat64: return f(double{});
    case DType::kInt64: return f(int64_t{});
    default: return f(float{});
  }
}

}  // namespace graft
