#include "graft/io/safetensors.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "graft/io/internal/save_hook.h"
#include "tests/io/test_util.h"
#include "tests/testing.h"

namespace graft::io {
namespace {

using testing::TempDir;

using graft::test_util::error_text;

// A file in memory: the length, `header`, then `data`.
std::string make_file(const std::string& header, const std::string& data = "") {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  return bytes + header + data;
}

NamedTensors sample_tensors() {
  return {
      {"dense/kernel", Tensor::from_vector<float>({1.5f, -2.f, 0.25f, 3.f, -0.f, 1e-30f}, {2, 3})},
      {"scale", Tensor::scalar<double>(3.141592653589793)},
      {"steps", Tensor::from_vector<int64_t>({-1, 0, int64_t{1} << 40, 9}, {2, 2})},
      {"empty", Tensor::empty(Shape{0, 5}, DType::kFloat32)},
  };
}

TEST(SafetensorsTest, RoundTripKeepsOrderDTypesShapesValuesAndMetadata) {
  TempDir dir;
  const std::string path = dir.file("run.safetensors");
  NamedTensors saved = sample_tensors();
  Metadata metadata{{"step", "1200"}, {"note", "quote \" backslash \\ newline \n ünïcode"}};
  save_safetensors(path, saved, metadata);

  Metadata loaded_metadata;
  NamedTensors loaded = load_safetensors(path, &loaded_metadata);
  EXPECT_EQ(loaded_metadata, metadata);
  ASSERT_EQ(loaded.size(), saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    SCOPED_TRACE(saved[i].first);
    EXPECT_EQ(loaded[i].first, saved[i].first);
    EXPECT_EQ(loaded[i].second.dtype(), saved[i].second.dtype());
    EXPECT_EQ(loaded[i].second.shape(), saved[i].second.shape());
    ASSERT_EQ(loaded[i].second.nbytes(), saved[i].second.nbytes());
    if (saved[i].second.nbytes() > 0) {
      EXPECT_EQ(std::memcmp(loaded[i].second.raw_data(), saved[i].second.raw_data(), saved[i].second.nbytes()), 0);
    }
  }
  EXPECT_EQ(loaded[1].second.rank(), 0);
  EXPECT_EQ(loaded[3].second.numel(), 0);
}

TEST(SafetensorsTest, ByteLayoutHasPaddedHeaderAndAlignedData) {
  TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  save_safetensors(path, {{"x", Tensor::from_vector<float>({1, 2, 3})}});
  std::string bytes = testing::read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  EXPECT_EQ(bytes.size(), 8 + n + 12);
  float values[3];
  std::memcpy(values, bytes.data() + 8 + n, 12);
  EXPECT_EQ(values[2], 3.f);
  SafetensorsFile file = SafetensorsFile::read(path);
  EXPECT_EQ(file.entry("x").begin, 0u);
  EXPECT_EQ(file.entry("x").end, 12u);
  EXPECT_EQ(file.header_size(), n);
}

TEST(SafetensorsTest, SaveReplacesTheOldFileAndLeavesNoTemporary) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, {{"a", Tensor::scalar<float>(1)}});
  save_safetensors(path, {{"b", Tensor::scalar<float>(2)}});
  SafetensorsFile file = SafetensorsFile::read(path);
  EXPECT_FALSE(file.contains("a"));
  EXPECT_EQ(file.load("b").item<float>(), 2.f);
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++count;
  EXPECT_EQ(count, 1);
}

TEST(SafetensorsTest, SaveRejectsBadKeysAndTensorsBeforeTouchingTheFile) {
  TempDir dir;
  const std::string path = dir.file("k.safetensors");
  Tensor x = Tensor::scalar<float>(1);
  EXPECT_NE(error_text<ValueError>([&] { save_safetensors(path, {{"", x}}); }).find("empty key"), std::string::npos);
  EXPECT_NE(error_text<ValueError>([&] { save_safetensors(path, {{"a", x}, {"a", x}}); }).find("'a' appears twice"),
            std::string::npos);
  EXPECT_NE(error_text<ValueError>([&] { save_safetensors(path, {{"__metadata__", x}}); }).find("reserved"),
            std::string::npos);
  EXPECT_NE(error_text<ValueError>([&] { save_safetensors(path, {{"u", Tensor()}}); }).find("'u' is undefined"),
            std::string::npos);
  EXPECT_NE(error_text<ValueError>([&] { save_safetensors(path, {{"s", Tensor::symbolic(Shape{2}, DType::kFloat32)}}); })
                .find("symbolic"),
            std::string::npos);
  EXPECT_NE(error_text<ValueError>([&] { save_safetensors(path, {{"bad\xff", x}}); }).find("UTF-8"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SafetensorsTest, SaveIntoMissingFolderIsIoErrorNamingThePath) {
  std::string message = error_text<IoError>(
      [] { save_safetensors("/nonexistent-graft-folder/x.safetensors", {{"a", Tensor::scalar<float>(1)}}); });
  EXPECT_NE(message.find("/nonexistent-graft-folder/x.safetensors.tmp."), std::string::npos) << message;
}

TEST(SafetensorsTest, MissingFileIsIoErrorNamingThePath) {
  std::string message = error_text<IoError>([] { SafetensorsFile::read("/nonexistent/ckpt.safetensors"); });
  EXPECT_NE(message.find("cannot open '/nonexistent/ckpt.safetensors'"), std::string::npos) << message;
}

TEST(SafetensorsTest, UnknownKeyIsNotFoundErrorNamingFileAndKey) {
  SafetensorsFile file = parse_safetensors(make_file("{}"), "mem.safetensors");
  std::string message = error_text<NotFoundError>([&] { file.load("nope"); });
  EXPECT_NE(message.find("mem.safetensors: no tensor 'nope'"), std::string::npos) << message;
}

TEST(SafetensorsTest, LoadsHalfAndBFloatAsFloat32AndSmallIntegersAsInt64) {
  SafetensorsFile file = SafetensorsFile::read(testing::source_dir() + "/tests/io/corpus/good_half.safetensors");
  Tensor h = file.load("h");
  EXPECT_EQ(h.dtype(), DType::kFloat32);
  EXPECT_EQ(h.to_vector<float>(), (std::vector<float>{1.0f, -0.5f, 65504.0f}));
  EXPECT_EQ(file.load("bf").to_vector<float>(), (std::vector<float>{1.0f, -2.0f}));
  Tensor i = file.load("i");
  EXPECT_EQ(i.dtype(), DType::kInt64);
  EXPECT_EQ(i.item<int64_t>(), -9);
}

TEST(SafetensorsTest, UnloadableDTypeIsValidatedButLoadSaysWhy) {
  // A U64 tensor of one element: the file is valid, graft just cannot hold it.
  SafetensorsFile file = parse_safetensors(
      make_file(R"({"u":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0')),
      "u64.safetensors");
  EXPECT_EQ(file.entry("u").dtype, FileDType::kU64);
  std::string message = error_text<IoError>([&] { file.load("u"); });
  EXPECT_NE(message.find("u64.safetensors: tensor 'u': graft cannot load dtype U64"), std::string::npos) << message;
}

TEST(SafetensorsTest, EmptyTensorWithHugeOtherDimensionsParsesButLoadRefuses) {
  SafetensorsFile file = parse_safetensors(
      make_file(R"({"e":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}})"),
      "e.safetensors");
  EXPECT_EQ(file.entry("e").numel(), 0);
  EXPECT_NE(error_text<IoError>([&] { file.load("e"); }).find("too large for graft"), std::string::npos);
}

// A child process starts saving a 200 MB checkpoint over a good one and is
// killed with SIGKILL in the middle of writing it; the good one must survive.
TEST(SafetensorsTest, KilledSaveLeavesThePreviousCheckpointIntact) {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  NamedTensors good = sample_tensors();
  save_safetensors(path, good, {{"step", "1"}});
  const std::string good_bytes = testing::read_bytes(path);

  Tensor big = Tensor::empty(Shape{50'000'000}, DType::kFloat32);  // 200 MB
  std::memset(big.raw_data(), 0x7f, big.nbytes());
  testing::KilledSave killed =
      testing::kill_save_midway(uint64_t{64} << 20, [&] { save_safetensors(path, {{"big", big}}, {{"step", "2"}}); });
  const pid_t child = killed.child;
  ASSERT_TRUE(killed.reached_middle) << "the child never reached the middle of its save";
  ASSERT_TRUE(WIFSIGNALED(killed.status));
  EXPECT_EQ(WTERMSIG(killed.status), SIGKILL);

  // The path still holds the old checkpoint, byte for byte, and loads.
  EXPECT_EQ(testing::read_bytes(path), good_bytes);
  Metadata metadata;
  NamedTensors loaded = load_safetensors(path, &metadata);
  EXPECT_EQ(metadata.at("step"), "1");
  ASSERT_EQ(loaded.size(), good.size());
  EXPECT_EQ(loaded[0].second.to_vector<float>(), good[0].second.to_vector<float>());
  // The killed writer's partial temporary file is all that is left of it.
  const std::string tmp = path + ".tmp." + std::to_string(child);
  ASSERT_TRUE(std::filesystem::exists(tmp));
  EXPECT_GE(std::filesystem::file_size(tmp), uint64_t{64} << 20);
  EXPECT_LT(std::filesystem::file_size(tmp), big.nbytes());
  EXPECT_THROW(SafetensorsFile::read(tmp), IoError);
}

}  // namespace
}  // namespace graft::io
