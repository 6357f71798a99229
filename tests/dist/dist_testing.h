// tests/dist/dist_testing.h: helpers for the data-parallel tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graft/dist/comm.h"
#include "graft/tensor/random.h"
#include "graft/tensor/tensor.h"

namespace graft::dist_test {

// FNV-1a over a tensor's bytes.
inline uint64_t bytes_hash(const Tensor& t) {
  const auto* p = static_cast<const unsigned char*>(t.raw_data());
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < t.nbytes(); ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

// Whether every rank holds the same bytes in `t`.
inline bool same_on_every_rank(const dist::Comm& comm, const Tensor& t) {
  std::vector<uint64_t> all = comm.allgather(bytes_hash(t));
  for (uint64_t h : all) {
    if (h != all[0]) return false;
  }
  return true;
}

// Whether every rank passed the same text.
inline bool same_text_on_every_rank(const dist::Comm& comm, const std::string& text) {
  std::vector<std::string> all = comm.allgather(text);
  for (const std::string& t : all) {
    if (t != all[0]) return false;
  }
  return true;
}

inline Tensor normal(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape);
  fill_normal(t.data<float>(), t.numel(), seed, 0.0, 1.0);
  return t;
}

}  // namespace graft::dist_test
