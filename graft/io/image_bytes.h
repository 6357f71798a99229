// graft/io/image_bytes.h: images kept as the bytes they are on disk, turned
// into float32 only for the rows a batch asks for.
//
//   ImageBytes images = read_idx_image_bytes(path);   // uint8 [N, 784], 1 byte a pixel
//   Tensor batch = images.gather(rows);                 // float32 [rows.size(), 784]
//   Tensor first = images.range(0, 256);                // float32 [256, 784]
//
// Fashion-MNIST's 60,000 training images take 47 MB this way against 188 MB
// as float32; a training run converts one batch at a time. Pixel p becomes
// p / 255 (a float32 division), then, when normalising, (x - mean) / std:
// the same float32 values as converting the whole set up front.
//
// Copies share the bytes (read-only after construction), so an ImageBytes
// may be read from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "graft/tensor/tensor.h"

namespace graft::io {

// Images kept as uint8 rows and converted to float32 per batch (header
// comment); copies share the bytes.
class ImageBytes {
 public:
  // No images (defined() is false).
  ImageBytes() = default;
  // `bytes` holds `count` rows of `row_size` pixels (ValueError otherwise).
  ImageBytes(std::vector<uint8_t> bytes, int64_t count, int64_t row_size);

  // The number of rows (images), and pixels per row.
  int64_t size() const { return count_; }
  int64_t row_size() const { return row_size_; }
  // The float32 tensor's shape: [size(), row_size()].
  Shape shape() const { return Shape{count_, row_size_}; }
  // Whether there are bytes (false for a default-constructed one).
  bool defined() const { return bytes_ != nullptr; }

  // The same bytes, converted with (x - mean) / std after scaling to [0, 1].
  ImageBytes normalized(float mean, float std) const;
  // The first n rows (n <= size()), sharing the bytes.
  ImageBytes head(int64_t n) const;

  // float32 [rows.size(), row_size()] of the given rows, in order. Throws
  // ValueError for a row outside [0, size()).
  Tensor gather(std::span<const int64_t> rows) const;
  // float32 [end - begin, row_size()], rows [begin, end) (ValueError unless
  // 0 <= begin <= end <= size()).
  Tensor range(int64_t begin, int64_t end) const;
  // Every row as float32 (size() * row_size() * 4 bytes).
  Tensor to_tensor() const { return range(0, count_); }
  // The raw pixels of row i.
  const uint8_t* row(int64_t i) const { return bytes_->data() + i * row_size_; }

 private:
  void convert(const uint8_t* src, float* dst) const;

  std::shared_ptr<const std::vector<uint8_t>> bytes_;
  int64_t count_ = 0;
  int64_t row_size_ = 0;
  bool normalize_ = false;
  float mean_ = 0.0f;
  float std_ = 1.0f;
};

}  // namespace graft::io
