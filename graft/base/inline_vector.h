// graft/base/inline_vector.h: a vector of at most N trivially copyable values
// stored inline, so shapes and axis lists never touch the heap.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "graft/base/check.h"

namespace graft {

template <typename T, int N>
class InlineVector {
 public:
  static constexpr int kCapacity = N;

  InlineVector() = default;
  InlineVector(std::initializer_list<T> values) : InlineVector(std::span<const T>(values.begin(), values.size())) {}
  explicit InlineVector(std::span<const T> values) {
    GRAFT_CHECK(values.size() <= static_cast<size_t>(N), "at most ", N,
                " entries are supported, got ", values.size());
    size_ = static_cast<int>(values.size());
    std::copy(values.begin(), values.end(), data_);
  }

  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](int i) { return data_[i]; }
  const T& operator[](int i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::span<const T> span() const { return {data_, static_cast<size_t>(size_)}; }

  void push_back(T value) {
    GRAFT_CHECK(size_ < N, "at most ", N, " entries are supported");
    data_[size_++] = value;
  }
  void resize(int n, T value = T()) {
    GRAFT_CHECK(n >= 0 && n <= N, "at most ", N, " entries are supported, asked for ", n);
    for (int i = size_; i < n; ++i) data_[i] = value;
    size_ = n;
  }

  friend bool operator==(const InlineVector& a, const InlineVector& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  T data_[N] = {};
  int size_ = 0;
};

}  // namespace graft
