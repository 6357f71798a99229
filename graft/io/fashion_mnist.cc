#include "graft/io/fashion_mnist.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "graft/io/internal/regular_file.h"

namespace graft::io {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr int64_t kSide = 28;
constexpr int64_t kNumClasses = 10;

const char kHelp[] =
    "\n  help: install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) "
    "or pass --data-dir";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw IoError(path + ": " + what + kHelp);
}

std::string hex32(uint32_t v) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 15];
  return out;
}

// A gzip file opened for reading; gzread also passes plain files through.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    // Checked for a regular file first: gzopen on a FIFO blocks forever.
    internal::RegularFile opened = internal::open_regular_file(path);
    if (opened.fd < 0 && opened.kind.empty()) fail(path, std::string("cannot open: ") + std::strerror(opened.os_error));
    if (opened.fd < 0) throw IoError(path + ": " + internal::not_regular_message(opened));
    const int fd = opened.fd;
    errno = 0;
    file_ = gzdopen(fd, "rb");  // owns fd from here on
    if (file_ == nullptr) {
      ::close(fd);
      fail(path, std::string("cannot open: ") + (errno != 0 ? std::strerror(errno) : "out of memory"));
    }
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; fewer only at the end of the data. A broken gzip
  // stream (bad CRC, cut short) is an error, not an early end.
  size_t read(uint8_t* out, size_t n) {
    size_t got = 0;
    while (got < n) {
      unsigned part = static_cast<unsigned>(std::min<size_t>(n - got, size_t{1} << 20));
      int r = gzread(file_, out + got, part);
      if (r < 0) check_stream();
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    if (got < n) check_stream();
    return got;
  }

  uint32_t read_u32_be(const char* what) {
    uint8_t b[4];
    if (read(b, 4) != 4) fail(path_, std::string("truncated: the file ends inside the header (") + what + ")");
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  }

  // Reads exactly n bytes into a buffer grown as data arrives, so a header
  // that claims more than the file holds costs no more than the file.
  std::vector<uint8_t> read_exactly(uint64_t n, const std::string& what) {
    std::vector<uint8_t> out;
    constexpr uint64_t kChunk = uint64_t{1} << 20;
    while (out.size() < n) {
      size_t start = out.size();
      size_t want = static_cast<size_t>(std::min(n - start, kChunk));
      out.resize(start + want);
      size_t got = read(out.data() + start, want);
      if (got < want) {
        fail(path_, "truncated: expected " + what + " (" + std::to_string(n) + " bytes after the header), found " +
                        std::to_string(start + got) + " bytes");
      }
    }
    uint8_t extra;
    if (read(&extra, 1) != 0) fail(path_, "the file holds more data than its header's " + what);
    return out;
  }

 private:
  void check_stream() {
    int code = Z_OK;
    const char* message = gzerror(file_, &code);
    if (code != Z_OK && code != Z_STREAM_END) fail(path_, std::string("corrupt gzip data: ") + message);
  }

  std::string path_;
  gzFile file_ = nullptr;
};

std::string file_name(Split split, const char* kind) {
  return std::string(split == Split::kTrain ? "train-" : "t10k-") + kind;
}

}  // namespace

ImageBytes read_idx_image_bytes(const std::string& path) {
  GzReader in(path);
  uint32_t magic = in.read_u32_be("magic");
  if (magic != kImagesMagic) {
    fail(path, "bad magic " + hex32(magic) + ", expected " + hex32(kImagesMagic) + " (idx3 images)");
  }
  int64_t count = in.read_u32_be("image count");
  int64_t rows = in.read_u32_be("rows");
  int64_t cols = in.read_u32_be("cols");
  if (rows != kSide || cols != kSide) {
    fail(path, "images are " + std::to_string(rows) + "x" + std::to_string(cols) + ", expected 28x28");
  }
  std::vector<uint8_t> pixels =
      in.read_exactly(static_cast<uint64_t>(count * rows * cols), std::to_string(count) + " images of 28x28");
  return ImageBytes(std::move(pixels), count, rows * cols);
}

Tensor read_idx_images(const std::string& path) { return read_idx_image_bytes(path).to_tensor(); }

Tensor read_idx_labels(const std::string& path) {
  GzReader in(path);
  uint32_t magic = in.read_u32_be("magic");
  if (magic != kLabelsMagic) {
    fail(path, "bad magic " + hex32(magic) + ", expected " + hex32(kLabelsMagic) + " (idx1 labels)");
  }
  int64_t count = in.read_u32_be("label count");
  std::vector<uint8_t> bytes = in.read_exactly(static_cast<uint64_t>(count), std::to_string(count) + " labels");
  Tensor labels = Tensor::empty(Shape{count}, DType::kInt64);
  int64_t* out = labels.data<int64_t>();
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] >= kNumClasses) {
      fail(path, "label " + std::to_string(bytes[i]) + " at index " + std::to_string(i) + " is outside 0..9");
    }
    out[i] = bytes[i];
  }
  return labels;
}

Dataset load_fashion_mnist(Split split, const FashionMnistOptions& options) {
  const std::string dir = options.data_dir().empty() ? "." : options.data_dir();
  const std::string images_path = dir + "/" + file_name(split, "images-idx3-ubyte.gz");
  const std::string labels_path = dir + "/" + file_name(split, "labels-idx1-ubyte.gz");
  Dataset data{read_idx_image_bytes(images_path), read_idx_labels(labels_path)};
  if (data.images.size() != data.labels.dim(0)) {
    throw IoError(images_path + " holds " + std::to_string(data.images.size()) + " images but " + labels_path +
                  " holds " + std::to_string(data.labels.dim(0)) + " labels" + kHelp);
  }
  if (options.normalize()) data.images = data.images.normalized(kFashionMnistMean, kFashionMnistStd);
  return data;
}

}  // namespace graft::io
