#include "graft/io/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include <gtest/gtest.h>

#include "tests/io/test_util.h"

namespace graft::io {
namespace {

using testing::TempDir;

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// n images whose pixel j of image i is (i * 7 + j) % 256, and labels i % 10.
std::string images_bytes(uint32_t n, uint32_t rows = 28, uint32_t cols = 28, uint32_t magic = 0x803) {
  std::string out;
  put_u32(out, magic);
  put_u32(out, n);
  put_u32(out, rows);
  put_u32(out, cols);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < rows * cols; ++j) out += static_cast<char>((i * 7 + j) % 256);
  }
  return out;
}

std::string labels_bytes(uint32_t n, uint32_t magic = 0x801) {
  std::string out;
  put_u32(out, magic);
  put_u32(out, n);
  for (uint32_t i = 0; i < n; ++i) out += static_cast<char>(i % 10);
  return out;
}

// A data folder with the four files, train of n examples and test of 3.
void write_dataset(const TempDir& dir, uint32_t n) {
  write_gz(dir.file("train-images-idx3-ubyte.gz"), images_bytes(n));
  write_gz(dir.file("train-labels-idx1-ubyte.gz"), labels_bytes(n));
  write_gz(dir.file("t10k-images-idx3-ubyte.gz"), images_bytes(3));
  write_gz(dir.file("t10k-labels-idx1-ubyte.gz"), labels_bytes(3));
}

std::string io_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no IoError";
  return "";
}

constexpr char kHelp[] = "help: install Debian's dataset-fashion-mnist package (apt-get install "
                         "dataset-fashion-mnist) or pass --data-dir";

TEST(FashionMnistTest, ReadsSyntheticFilesScaledToUnitRange) {
  TempDir dir;
  write_dataset(dir, 12);
  Dataset train = load_fashion_mnist(Split::kTrain, FashionMnistOptions().data_dir(dir.path().string()));
  ASSERT_EQ(train.size(), 12);
  EXPECT_EQ(train.images.shape(), (Shape{12, 784}));
  Tensor images = train.images.to_tensor();
  EXPECT_EQ(images.dtype(), DType::kFloat32);
  EXPECT_EQ(train.labels.dtype(), DType::kInt64);
  const float* p = images.data<float>();
  EXPECT_EQ(p[0], 0.0f);
  EXPECT_FLOAT_EQ(p[784 * 2 + 3], 17.0f / 255.0f);
  EXPECT_EQ(p[255], 1.0f);
  EXPECT_EQ(train.labels.to_vector<int64_t>()[11], 1);
  Dataset test = load_fashion_mnist(Split::kTest, FashionMnistOptions().data_dir(dir.path().string()));
  EXPECT_EQ(test.size(), 3);
}

TEST(FashionMnistTest, NormaliseUsesTheTrainingMeanAndStd) {
  TempDir dir;
  write_dataset(dir, 2);
  Dataset d = load_fashion_mnist(Split::kTrain, FashionMnistOptions().data_dir(dir.path().string()).normalize(true));
  Tensor images = d.images.to_tensor();
  EXPECT_FLOAT_EQ(images.data<float>()[0], -kFashionMnistMean / kFashionMnistStd);
  EXPECT_FLOAT_EQ(images.data<float>()[255], (1.0f - kFashionMnistMean) / kFashionMnistStd);
}

TEST(FashionMnistTest, MissingFolderNamesTheFileAndSaysHowToInstall) {
  std::string message = io_error_of(
      [] { load_fashion_mnist(Split::kTrain, FashionMnistOptions().data_dir("/nonexistent/fmnist")); });
  EXPECT_NE(message.find("/nonexistent/fmnist/train-images-idx3-ubyte.gz: cannot open"), std::string::npos)
      << message;
  EXPECT_NE(message.find(kHelp), std::string::npos) << message;
}

struct CorruptCase {
  const char* what;
  std::string images;
  std::string labels;
  const char* file;  // which file the message must name
  const char* expected;
};

TEST(FashionMnistTest, CorruptFilesAreIoErrorsNamingTheFile) {
  std::string truncated = images_bytes(4);
  truncated.resize(truncated.size() - 100);
  std::string bad_label = labels_bytes(4);
  bad_label[8 + 2] = 12;
  const std::vector<CorruptCase> cases = {
      {"bad image magic", images_bytes(4, 28, 28, 0x801), labels_bytes(4), "train-images",
       "bad magic 0x00000801, expected 0x00000803"},
      {"bad label magic", images_bytes(4), labels_bytes(4, 0x803), "train-labels",
       "bad magic 0x00000803, expected 0x00000801"},
      {"wrong image size", images_bytes(4, 28, 27), labels_bytes(4), "train-images", "images are 28x27, expected 28x28"},
      {"truncated images", truncated, labels_bytes(4), "train-images",
       "truncated: expected 4 images of 28x28 (3136 bytes after the header), found 3036 bytes"},
      {"truncated header", images_bytes(4).substr(0, 10), labels_bytes(4), "train-images",
       "truncated: the file ends inside the header (rows)"},
      {"extra data", images_bytes(4) + "x", labels_bytes(4), "train-images",
       "the file holds more data than its header's 4 images of 28x28"},
      {"label out of range", images_bytes(4), bad_label, "train-labels", "label 12 at index 2 is outside 0..9"},
      {"counts differ", images_bytes(4), labels_bytes(5), "train-images", "holds 4 images but"},
  };
  for (const CorruptCase& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    write_dataset(dir, 4);
    write_gz(dir.file("train-images-idx3-ubyte.gz"), c.images);
    write_gz(dir.file("train-labels-idx1-ubyte.gz"), c.labels);
    std::string message =
        io_error_of([&] { load_fashion_mnist(Split::kTrain, FashionMnistOptions().data_dir(dir.path().string())); });
    EXPECT_NE(message.find(dir.file(c.file)), std::string::npos) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_NE(message.find(kHelp), std::string::npos) << message;
  }
}

TEST(FashionMnistTest, BrokenGzipStreamIsAnError) {
  TempDir dir;
  write_dataset(dir, 40);
  const std::string path = dir.file("train-images-idx3-ubyte.gz");
  std::string compressed = testing::read_bytes(path);
  // Cut the stream short, and separately flip a byte of its CRC trailer.
  testing::write_bytes(path, compressed.substr(0, compressed.size() / 2));
  EXPECT_NE(io_error_of([&] { read_idx_images(path); }).find(path + ": "), std::string::npos);
  std::string bad_crc = compressed;
  bad_crc[bad_crc.size() - 6] = static_cast<char>(bad_crc[bad_crc.size() - 6] ^ 0x55);
  testing::write_bytes(path, bad_crc);
  std::string message = io_error_of([&] { read_idx_images(path); });
  EXPECT_NE(message.find("corrupt gzip data"), std::string::npos) << message;
}

TEST(FashionMnistTest, HeaderClaimingBillionsOfImagesFailsWithoutAllocatingThem) {
  TempDir dir;
  std::string bytes = images_bytes(2);
  bytes[4] = '\x7f';  // count 0x7f000002
  write_gz(dir.file("huge.gz"), bytes);
  std::string message = io_error_of([&] { read_idx_images(dir.file("huge.gz")); });
  EXPECT_NE(message.find("truncated: expected 2130706434 images"), std::string::npos) << message;
}

// The real data set from Debian's dataset-fashion-mnist package.
TEST(FashionMnistTest, ReadsTheInstalledDataSet) {
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  for (Split split : {Split::kTrain, Split::kTest}) {
    Dataset d = load_fashion_mnist(split);
    const int64_t n = split == Split::kTrain ? 60000 : 10000;
    EXPECT_EQ(d.images.shape(), (Shape{n, 784}));
    ASSERT_EQ(d.labels.shape(), (Shape{n}));
    std::vector<int64_t> per_class(10, 0);
    for (int64_t label : d.labels.to_vector<int64_t>()) {
      ASSERT_GE(label, 0);
      ASSERT_LE(label, 9);
      ++per_class[static_cast<size_t>(label)];
    }
    for (int64_t c : per_class) EXPECT_EQ(c, n / 10);  // the classes are balanced
    Tensor images = d.images.to_tensor();
    const float* p = images.data<float>();
    auto [lo, hi] = std::minmax_element(p, p + images.numel());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 1.0f);
  }
}

}  // namespace
}  // namespace graft::io
