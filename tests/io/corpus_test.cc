// The committed corpus (tests/io/corpus, made by make_corpus.py): each good
// file loads, each malformed one gives an IoError naming the file, the key
// where there is one, and what is wrong. Files named crash-* were found by
// fuzzing (scripts/fuzz.sh): they must give an IoError and nothing worse.
#include <filesystem>

#include <gtest/gtest.h>

#include "graft/io/safetensors.h"
#include "tests/io/test_util.h"

namespace graft::io {
namespace {

struct BadFile {
  const char* name;
  std::vector<const char*> substrings;  // each must appear in the message
};

const std::vector<BadFile>& bad_files() {
  static const std::vector<BadFile> files = {
      {"truncated_length.safetensors", {"file is 3 bytes, too short", "help: the file is truncated"}},
      {"truncated_data.safetensors", {"tensor 'b': data_offsets [8, 16) lie outside the data section of 11 bytes",
                                      "help: the file is truncated"}},
      {"header_beyond_file.safetensors", {"header length 4096 runs past the end of the file"}},
      {"header_huge.safetensors", {"header length 1099511627776 exceeds the limit of 104857600 bytes"}},
      {"bad_json.safetensors", {"header is not valid JSON", "expected ',' or '}' in an object, found end of header"}},
      {"bad_json_trailing_comma.safetensors", {"header is not valid JSON", "found '}'"}},
      {"not_object.safetensors", {"header does not start with '{'"}},
      {"unknown_dtype.safetensors", {"tensor 'w': unknown dtype 'F31'", "help: known dtypes"}},
      {"negative_shape.safetensors", {"tensor 'w': shape [2, -1] has a negative entry -1"}},
      {"float_shape.safetensors", {"tensor 'w': shape: expected integers, found a non-integer"}},
      {"size_mismatch.safetensors", {"tensor 'w': size mismatch: shape [3] of F32 needs 12 bytes, "
                                     "data_offsets [0, 8) hold 8"}},
      {"shape_overflow.safetensors", {"tensor 'w': size mismatch", "needs more than 2^64"}},
      {"offsets_outside.safetensors", {"tensor 'w': data_offsets [4, 20) lie outside the data section of 8 bytes"}},
      {"offsets_reversed.safetensors", {"tensor 'w': data_offsets [8, 4) end before they begin"}},
      {"overlap.safetensors", {"tensor 'b': data_offsets [4, 12) overlap tensor 'a'"}},
      {"gap.safetensors", {"tensor 'b': gap: data bytes [4, 8) before this tensor belong to no tensor"}},
      {"trailing_bytes.safetensors", {"tensor 'a': gap: the data section has 9 bytes but the tensors cover only 4"}},
      {"empty_key.safetensors", {"a tensor has an empty key"}},
      {"duplicate_key.safetensors", {"tensor 'w': key appears twice in the header"}},
      {"missing_field.safetensors", {"tensor 'w': missing field 'shape'"}},
      {"metadata_not_string.safetensors", {"__metadata__ entry 'step': expected a string, found an integer"}},
      {"deep_nesting.safetensors", {"JSON nested deeper than 64 levels"}},
      {"bad_utf8.safetensors", {"header is not valid JSON", "invalid UTF-8"}},
  };
  return files;
}

std::string corpus_path(const std::string& name) { return testing::source_dir() + "/tests/io/corpus/" + name; }

TEST(SafetensorsCorpusTest, GoodFilesLoad) {
  NamedTensors good = load_safetensors(corpus_path("good.safetensors"));
  ASSERT_EQ(good.size(), 2u);
  EXPECT_EQ(good[0].second.to_vector<float>(), (std::vector<float>{1.5f, -2.f}));
  EXPECT_EQ(good[1].second.item<int64_t>(), 7);
  EXPECT_TRUE(load_safetensors(corpus_path("good_empty.safetensors")).empty());
  EXPECT_EQ(load_safetensors(corpus_path("good_half.safetensors")).size(), 3u);
}

TEST(SafetensorsCorpusTest, EachMalformedFileGivesItsError) {
  for (const BadFile& bad : bad_files()) {
    SCOPED_TRACE(bad.name);
    const std::string path = corpus_path(bad.name);
    ASSERT_TRUE(std::filesystem::exists(path)) << "run tests/io/make_corpus.py";
    try {
      SafetensorsFile::read(path);
      ADD_FAILURE() << "no IoError";
    } catch (const IoError& e) {
      std::string message = e.what();
      EXPECT_NE(message.find(path + ": "), std::string::npos) << message;
      for (const char* sub : bad.substrings) EXPECT_NE(message.find(sub), std::string::npos) << message;
    }
  }
}

// The same bytes through the in-memory entry the fuzzer uses, under the name given.
TEST(SafetensorsCorpusTest, InMemoryParseReportsTheGivenName) {
  std::string bytes = testing::read_bytes(corpus_path("overlap.safetensors"));
  try {
    parse_safetensors(bytes, "buffer#1");
    ADD_FAILURE() << "no IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("buffer#1: tensor 'b'"), std::string::npos) << e.what();
  }
}

// Every file in the corpus (fuzzer finds included) is either valid or an
// IoError; and every prefix of the good file is an IoError, never a crash.
TEST(SafetensorsCorpusTest, EveryCorpusFileAndEveryTruncationIsValidOrIoError) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_dir() + "/tests/io/corpus")) {
    SCOPED_TRACE(entry.path().string());
    ++files;
    try {
      SafetensorsFile file = SafetensorsFile::read(entry.path().string());
      for (const TensorEntry& e : file.entries()) {
        try {
          file.load(e.key);
        } catch (const IoError&) {
        }
      }
    } catch (const IoError&) {
    }
  }
  EXPECT_GE(files, static_cast<int>(bad_files().size()) + 3);
  std::string good = testing::read_bytes(corpus_path("good.safetensors"));
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_THROW(parse_safetensors(std::string_view(good).substr(0, n), "prefix"), IoError) << n;
  }
}

}  // namespace
}  // namespace graft::io
