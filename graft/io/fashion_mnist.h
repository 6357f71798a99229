// graft/io/fashion_mnist.h: the Fashion-MNIST data set from the idx.gz files
// of Debian's dataset-fashion-mnist package.
//
//   Dataset train = load_fashion_mnist(Split::kTrain);       // 60000 examples
//   Dataset test = load_fashion_mnist(Split::kTest, FashionMnistOptions().normalize(true));
//   train.images;  // [60000, 784] pixels, kept as uint8 (47 MB, not 188 MB
//                  // of float32); .range(), .gather() and .to_tensor() give
//                  // float32 rows scaled to [0, 1] (normalised if asked)
//   train.labels;  // int64 [60000], classes 0..9
//
// File layout (idx, big-endian u32 fields, gzip-compressed):
//   images: magic 0x00000803, count N, rows 28, cols 28, then N*28*28 u8 pixels
//   labels: magic 0x00000801, count N, then N u8 labels
//
// A missing or malformed file (bad magic, wrong sizes, truncated data, a
// broken gzip stream, trailing bytes, a label above 9, image and label counts
// that differ) is an IoError naming the file and saying what is wrong, with
// the help line "install Debian's dataset-fashion-mnist package ... or pass
// --data-dir". Memory grows with the data the file really holds, never with
// the counts its header claims.
#pragma once

#include <cstdint>
#include <string>

#include "graft/io/image_bytes.h"
#include "graft/tensor/tensor.h"

namespace graft::io {

// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
// Mean and standard deviation of the training pixels after scaling to [0, 1].
inline constexpr float kFashionMnistMean = 0.2860f;
inline constexpr float kFashionMnistStd = 0.3530f;

// Which file set: the 60,000 training images or the 10,000 test images.
enum class Split { kTrain, kTest };

// Where load_fashion_mnist() reads from and how it scales the pixels.
class FashionMnistOptions {
 public:
  // The folder holding the .gz files (default kFashionMnistDir).
  FashionMnistOptions& data_dir(std::string dir) { data_dir_ = std::move(dir); return *this; }
  // Maps each pixel p in [0, 1] to (p - kFashionMnistMean) / kFashionMnistStd.
  FashionMnistOptions& normalize(bool on) { normalize_ = on; return *this; }

  // The values set above, or their defaults.
  const std::string& data_dir() const { return data_dir_; }
  bool normalize() const { return normalize_; }

 private:
  std::string data_dir_ = kFashionMnistDir;
  bool normalize_ = false;
};

// One split of the data set.
struct Dataset {
  ImageBytes images;  // [N, 784] uint8, converted to float32 per batch
  Tensor labels;  // int64 [N]
  // N, the number of examples (0 for an empty Dataset).
  int64_t size() const { return labels.defined() ? labels.numel() : 0; }
};

// Reads train-* or t10k-* {images-idx3,labels-idx1}-ubyte.gz from the data
// folder. Throws IoError as the file comment says.
Dataset load_fashion_mnist(Split split, const FashionMnistOptions& options = {});

// The two files on their own (any idx.gz of 28x28 images / labels 0..9).
// Images: float32 [N, 784] in [0, 1], or the bytes as they are. Labels: int64 [N].
Tensor read_idx_images(const std::string& path);
ImageBytes read_idx_image_bytes(const std::string& path);
Tensor read_idx_labels(const std::string& path);

}  // namespace graft::io
