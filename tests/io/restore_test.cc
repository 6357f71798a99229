#include "graft/io/restore.h"

#include <gtest/gtest.h>

#include "tests/io/test_util.h"

namespace graft::io {
namespace {

using testing::TempDir;

const RestoreEntry* find_entry(const RestoreReport& report, std::string_view key, std::string_view target) {
  for (const RestoreEntry& e : report.entries) {
    if (e.key == key && e.target == target) return &e;
  }
  return nullptr;
}

// A checkpoint of an old model: a kernel, a bias, a layer since removed, and
// a layer that was widened.
SafetensorsFile old_checkpoint(const TempDir& dir) {
  const std::string path = dir.file("old.safetensors");
  save_safetensors(path, {
                             {"dense/kernel", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2})},
                             {"dense/bias", Tensor::from_vector<float>({7, 8})},
                             {"removed/kernel", Tensor::from_vector<float>({9})},
                             {"wide/kernel", Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2})},
                             {"step", Tensor::scalar<int64_t>(5)},
                         });
  return SafetensorsFile::read(path);
}

TEST(RestoreTest, ClassifiesEveryKeyAndTargetAndCopiesOnlyMatches) {
  TempDir dir;
  SafetensorsFile file = old_checkpoint(dir);
  Tensor kernel = Tensor::empty(Shape{3, 2});
  Tensor bias = Tensor::from_vector<float>({0, 0});
  Tensor wide = Tensor::from_vector<float>({0, 0, 0, 0, 0, 0}, {2, 3});
  Tensor head = Tensor::from_vector<float>({-1, -1});
  Tensor step = Tensor::scalar<double>(0);
  RestoreReport report = restore_tensors(
      file, {{"dense/kernel", kernel}, {"dense/bias", bias}, {"wide/kernel", wide}, {"head/bias", head}, {"step", step}});

  EXPECT_EQ(report.count(RestoreStatus::kMatched), 2u);
  EXPECT_EQ(report.count(RestoreStatus::kMissing), 1u);
  EXPECT_EQ(report.count(RestoreStatus::kUnexpected), 1u);
  EXPECT_EQ(report.count(RestoreStatus::kShapeMismatch), 1u);
  EXPECT_EQ(report.count(RestoreStatus::kDTypeMismatch), 1u);
  EXPECT_FALSE(report.all_matched());
  ASSERT_NE(find_entry(report, "removed/kernel", ""), nullptr);
  EXPECT_EQ(find_entry(report, "removed/kernel", "")->status, RestoreStatus::kUnexpected);
  ASSERT_NE(find_entry(report, "", "head/bias"), nullptr);
  EXPECT_EQ(find_entry(report, "", "head/bias")->status, RestoreStatus::kMissing);
  const RestoreEntry* mismatch = find_entry(report, "wide/kernel", "wide/kernel");
  ASSERT_NE(mismatch, nullptr);
  EXPECT_EQ(mismatch->status, RestoreStatus::kShapeMismatch);
  EXPECT_EQ(mismatch->detail, "file [2, 2], target [2, 3]");
  EXPECT_EQ(find_entry(report, "step", "step")->detail, "file I64 loads as int64, target is float64");

  EXPECT_EQ(kernel.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(bias.to_vector<float>(), (std::vector<float>{7, 8}));
  EXPECT_EQ(wide.to_vector<float>(), std::vector<float>(6, 0.f));
  EXPECT_EQ(head.to_vector<float>(), (std::vector<float>{-1, -1}));
  EXPECT_EQ(step.item<double>(), 0.0);

  std::string text = report.to_string();
  EXPECT_NE(text.find("2 matched, 1 missing, 1 unexpected, 1 shape mismatch, 1 dtype mismatch"), std::string::npos)
      << text;
  EXPECT_NE(text.find("missing: 'head/bias' [2] F32 has no key in the file (kept at its initial value)"),
            std::string::npos) << text;
  EXPECT_NE(text.find("unexpected: key 'removed/kernel' [1] F32 has no target"), std::string::npos) << text;
  EXPECT_NE(text.find("shape mismatch: 'wide/kernel': file [2, 2], target [2, 3]"), std::string::npos) << text;
}

TEST(RestoreTest, StrictModeListsEveryOffenderAndWritesNothing) {
  TempDir dir;
  SafetensorsFile file = old_checkpoint(dir);
  Tensor kernel = Tensor::from_vector<float>({0, 0, 0, 0, 0, 0}, {3, 2});
  Tensor wide = Tensor::from_vector<float>({0, 0, 0, 0, 0, 0}, {2, 3});
  Tensor head = Tensor::from_vector<float>({-1});
  try {
    restore_tensors(file, {{"dense/kernel", kernel}, {"wide/kernel", wide}, {"head/bias", head}},
                    RestoreOptions().strict(true));
    FAIL() << "strict restore did not throw";
  } catch (const IoError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(file.name() + ": strict restore failed: 1 matched, 1 missing, 3 unexpected, "
                                         "1 shape mismatch; nothing was restored"),
              std::string::npos) << message;
    for (const char* offender : {"'dense/bias'", "'removed/kernel'", "'step'", "'wide/kernel'", "'head/bias'"}) {
      EXPECT_NE(message.find(offender), std::string::npos) << offender << "\n" << message;
    }
    EXPECT_NE(message.find("help: "), std::string::npos);
  }
  EXPECT_EQ(kernel.to_vector<float>(), std::vector<float>(6, 0.f));
}

TEST(RestoreTest, StrictModeRestoresWhenEverythingMatches) {
  TempDir dir;
  const std::string path = dir.file("a.safetensors");
  save_safetensors(path, {{"x", Tensor::from_vector<double>({1, 2})}});
  Tensor x = Tensor::from_vector<double>({0, 0});
  RestoreReport report = restore_tensors(SafetensorsFile::read(path), {{"x", x}}, RestoreOptions().strict(true));
  EXPECT_TRUE(report.all_matched());
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{1, 2}));
}

// A PyTorch Linear stores weight [out, in]; graft's Dense kernel is [in, out].
TEST(RestoreTest, KeyMapRenamesAndTransposesPyTorchWeights) {
  TempDir dir;
  const std::string path = dir.file("torch.safetensors");
  save_safetensors(path, {{"layers.0.weight", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})},
                          {"layers.0.bias", Tensor::from_vector<float>({7, 8})},
                          {"layers.0.num_batches_tracked", Tensor::scalar<int64_t>(3)}});
  KeyMap map = [](std::string_view key) -> std::optional<MappedKey> {
    if (key == "layers.0.weight") return MappedKey{"dense/kernel", true};
    if (key == "layers.0.bias") return MappedKey{"dense/bias"};
    return std::nullopt;
  };
  Tensor kernel = Tensor::empty(Shape{3, 2});
  Tensor bias = Tensor::empty(Shape{2});
  RestoreReport report =
      restore_tensors(SafetensorsFile::read(path), {{"dense/kernel", kernel}, {"dense/bias", bias}},
                      RestoreOptions().key_map(map));
  EXPECT_EQ(report.count(RestoreStatus::kMatched), 2u);
  EXPECT_EQ(report.count(RestoreStatus::kUnexpected), 1u);
  EXPECT_EQ(kernel.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(bias.to_vector<float>(), (std::vector<float>{7, 8}));
  const RestoreEntry* e = find_entry(report, "layers.0.weight", "dense/kernel");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->transposed);
  EXPECT_NE(report.to_string().find("matched: 'dense/kernel' <- 'layers.0.weight' [3, 2] F32 (transposed)"),
            std::string::npos) << report.to_string();
}

TEST(RestoreTest, TransposeOfANonMatrixIsAMismatch) {
  TempDir dir;
  const std::string path = dir.file("v.safetensors");
  save_safetensors(path, {{"v", Tensor::from_vector<float>({1, 2})}});
  Tensor v = Tensor::empty(Shape{2});
  RestoreReport report = restore_tensors(SafetensorsFile::read(path), {{"v", v}},
                                         RestoreOptions().key_map([](std::string_view k) {
                                           return std::optional<MappedKey>(MappedKey{std::string(k), true});
                                         }));
  ASSERT_EQ(report.entries.size(), 1u);
  EXPECT_EQ(report.entries[0].status, RestoreStatus::kShapeMismatch);
  EXPECT_NE(report.entries[0].detail.find("needs a 2-D tensor"), std::string::npos);
}

// A widened layer: the saved [2, 2] kernel goes into the top-left of the new
// [2, 3] one, whose extra column keeps its fresh values.
TEST(RestoreTest, TransformHookPadsAGrownKernel) {
  TempDir dir;
  SafetensorsFile file = old_checkpoint(dir);
  Tensor wide = Tensor::from_vector<float>({0, 0, -5, 0, 0, -6}, {2, 3});
  int calls = 0;
  TransformHook pad = [&](std::string_view name, const Tensor& saved, const Tensor& target) -> std::optional<Tensor> {
    ++calls;
    EXPECT_EQ(name, "wide/kernel");
    if (saved.rank() != 2 || saved.dim(0) != target.dim(0) || saved.dim(1) > target.dim(1)) return std::nullopt;
    Tensor out = target.clone();
    for (int64_t r = 0; r < saved.dim(0); ++r) {
      for (int64_t c = 0; c < saved.dim(1); ++c) {
        out.data<float>()[r * target.dim(1) + c] = saved.data<float>()[r * saved.dim(1) + c];
      }
    }
    return out;
  };
  RestoreReport report = restore_tensors(file, {{"wide/kernel", wide}}, RestoreOptions().transform(pad));
  EXPECT_EQ(calls, 1);
  const RestoreEntry* e = find_entry(report, "wide/kernel", "wide/kernel");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->status, RestoreStatus::kMatched);
  EXPECT_TRUE(e->transformed);
  EXPECT_EQ(wide.to_vector<float>(), (std::vector<float>{1, 2, -5, 3, 4, -6}));
}

TEST(RestoreTest, HookReturningTheWrongShapeIsValueError) {
  TempDir dir;
  SafetensorsFile file = old_checkpoint(dir);
  Tensor wide = Tensor::empty(Shape{2, 3});
  TransformHook bad = [](std::string_view, const Tensor& saved, const Tensor&) -> std::optional<Tensor> {
    return saved;
  };
  try {
    restore_tensors(file, {{"wide/kernel", wide}}, RestoreOptions().transform(bad));
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("transform hook returned [2, 2] float32 for target 'wide/kernel', "
                                         "which is [2, 3] float32"),
              std::string::npos) << e.what();
  }
}

TEST(RestoreTest, DuplicateTargetNamesAreValueError) {
  TempDir dir;
  SafetensorsFile file = old_checkpoint(dir);
  Tensor a = Tensor::empty(Shape{2});
  EXPECT_THROW(restore_tensors(file, {{"dense/bias", a}, {"dense/bias", a}}), ValueError);
}

TEST(RestoreTest, DiffAgainstShapesAndAgainstAnotherFileWritesNothing) {
  TempDir dir;
  SafetensorsFile file = old_checkpoint(dir);
  RestoreReport report = diff_safetensors(file, {{"dense/kernel", {3, 2}}, {"dense/bias", {4}},
                                                 {"step", {}, DType::kInt64}, {"new", {1}}});
  EXPECT_EQ(report.count(RestoreStatus::kMatched), 2u);
  EXPECT_EQ(report.count(RestoreStatus::kShapeMismatch), 1u);
  EXPECT_EQ(report.count(RestoreStatus::kMissing), 1u);
  EXPECT_EQ(report.count(RestoreStatus::kUnexpected), 2u);

  const std::string other_path = dir.file("new.safetensors");
  save_safetensors(other_path, {{"dense/kernel", Tensor::empty(Shape{3, 2})}, {"dense/bias", Tensor::empty(Shape{2})},
                                {"extra", Tensor::empty(Shape{1})}});
  RestoreReport vs_file = diff_safetensors(file, SafetensorsFile::read(other_path));
  EXPECT_EQ(vs_file.count(RestoreStatus::kMatched), 2u);
  EXPECT_EQ(vs_file.count(RestoreStatus::kMissing), 1u);
  EXPECT_EQ(vs_file.count(RestoreStatus::kUnexpected), 3u);
  EXPECT_EQ(find_entry(vs_file, "", "extra")->status, RestoreStatus::kMissing);
}

TEST(RestoreTest, InspectListsKeysDTypesShapesCountsAndMetadata) {
  TempDir dir;
  const std::string path = dir.file("i.safetensors");
  save_safetensors(path, {{"dense/kernel", Tensor::empty(Shape{784, 10})}, {"step", Tensor::scalar<int64_t>(3)}},
                   {{"graft.step", "1200"}});
  std::string text = inspect_safetensors(SafetensorsFile::read(path));
  EXPECT_NE(text.find(path + ": safetensors, "), std::string::npos) << text;
  EXPECT_NE(text.find("2 tensors"), std::string::npos) << text;
  EXPECT_NE(text.find("graft.step = 1200"), std::string::npos) << text;
  EXPECT_NE(text.find("dense/kernel  F32      [784, 10]  7840"), std::string::npos) << text;
  EXPECT_NE(text.find("step          I64      []         1"), std::string::npos) << text;
  EXPECT_NE(text.find("total: 7841 elements, 31368 bytes of data"), std::string::npos) << text;
}

}  // namespace
}  // namespace graft::io

namespace graft::io {
namespace {

TEST(RestoreTest, AnInvalidStatusOrDTypeFailsLoudly) {
  EXPECT_THROW(restore_status_name(RestoreStatus::kCount), InternalError);
  EXPECT_THROW(to_file_dtype(DType::kCount), InternalError);  // never saved as F32
  EXPECT_THROW(to_file_dtype(static_cast<DType>(99)), InternalError);
  EXPECT_EQ(to_file_dtype(DType::kFloat64), FileDType::kF64);
  EXPECT_EQ(loaded_dtype(FileDType::kU64), std::nullopt);
  EXPECT_THROW(loaded_dtype(FileDType::kCount), InternalError);
}

}  // namespace
}  // namespace graft::io
