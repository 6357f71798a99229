#include "graft/io/image_bytes.h"

#include "graft/base/check.h"

namespace graft::io {

ImageBytes::ImageBytes(std::vector<uint8_t> bytes, int64_t count, int64_t row_size)
    : count_(count), row_size_(row_size) {
  GRAFT_CHECK(count >= 0 && row_size >= 0 && static_cast<int64_t>(bytes.size()) == count * row_size,
              "ImageBytes: ", bytes.size(), " bytes do not make ", count, " rows of ", row_size, " pixels");
  bytes_ = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
}

ImageBytes ImageBytes::normalized(float mean, float std) const {
  ImageBytes out = *this;
  out.normalize_ = true;
  out.mean_ = mean;
  out.std_ = std;
  return out;
}

ImageBytes ImageBytes::head(int64_t n) const {
  GRAFT_CHECK(n >= 0 && n <= count_, "ImageBytes::head: ", n, " rows asked of ", count_);
  ImageBytes out = *this;
  out.count_ = n;
  return out;
}

void ImageBytes::convert(const uint8_t* src, float* dst) const {
  // Two separate float32 steps, as the whole set used to be converted.
  for (int64_t j = 0; j < row_size_; ++j) dst[j] = static_cast<float>(src[j]) / 255.0f;
  if (normalize_) {
    for (int64_t j = 0; j < row_size_; ++j) dst[j] = (dst[j] - mean_) / std_;
  }
}

Tensor ImageBytes::gather(std::span<const int64_t> rows) const {
  Tensor out = Tensor::empty(Shape{static_cast<int64_t>(rows.size()), row_size_}, DType::kFloat32);
  float* dst = out.data<float>();
  for (size_t i = 0; i < rows.size(); ++i) {
    GRAFT_CHECK(rows[i] >= 0 && rows[i] < count_, "ImageBytes::gather: row ", rows[i], " at position ", i,
                " is outside [0, ", count_, ")");
    convert(row(rows[i]), dst + static_cast<int64_t>(i) * row_size_);
  }
  return out;
}

Tensor ImageBytes::range(int64_t begin, int64_t end) const {
  GRAFT_CHECK(0 <= begin && begin <= end && end <= count_, "ImageBytes::range: [", begin, ", ", end,
              ") is not inside [0, ", count_, ")");
  Tensor out = Tensor::empty(Shape{end - begin, row_size_}, DType::kFloat32);
  float* dst = out.data<float>();
  for (int64_t r = begin; r < end; ++r) convert(row(r), dst + (r - begin) * row_size_);
  return out;
}

}  // namespace graft::io
