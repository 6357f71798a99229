// Writes the sample checkpoint that read_safetensors.py checks with an
// independent reader (Python's standard library only). The values here and
// the expectations there must agree.
//
//   graft_io_write_sample OUT.safetensors
#include <cstdio>
#include <exception>

#include "graft/io/safetensors.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.safetensors\n", argv[0]);
    return 2;
  }
  using graft::Shape;
  using graft::Tensor;
  try {
    std::vector<float> kernel(12);
    for (size_t i = 0; i < kernel.size(); ++i) kernel[i] = static_cast<float>(i) * 0.5f - 1.25f;
    std::vector<int64_t> counts(5);
    for (size_t i = 0; i < counts.size(); ++i) counts[i] = (static_cast<int64_t>(i) - 2) * 1000000000007;
    graft::io::save_safetensors(
        argv[1],
        {
            {"dense/kernel", Tensor::from_vector(kernel, {3, 4})},
            {"counts", Tensor::from_vector(counts)},
            {"pi", Tensor::scalar<double>(3.141592653589793)},
            {"empty", Tensor::empty(Shape{0, 7}, graft::DType::kFloat32)},
            {"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87/\xce\xb2", Tensor::from_vector<double>({1e-300, -2.5})},
        },
        {{"step", "1200"}, {"note", "tab\t quote\" \xc3\xbc"}});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
