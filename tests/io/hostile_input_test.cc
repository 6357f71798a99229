// Hostile input to the readers: paths that are not regular files (a FIFO
// must not block), headers built to exhaust memory (refused while parsing,
// naming the limit), and keys or metadata that would drive the terminal
// (escaped wherever graft prints them).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "graft/io/fashion_mnist.h"
#include "graft/io/printable.h"
#include "graft/io/restore.h"
#include "graft/io/safetensors.h"
#include "tests/io/test_util.h"
#include "tests/testing.h"

namespace graft::io {
namespace {

using graft::test_util::error_text;
using testing::TempDir;

std::string make_file(const std::string& header, const std::string& data = "") {
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  return bytes + header + data;
}

// Runs `read` on a FIFO with no writer. A reader that blocks in open() is
// rescued after a while by a writer the watchdog opens (non-blocking, so it
// succeeds only when a reader is waiting), and the test then fails: it never
// hangs the suite. Returns the IoError's message.
template <typename Read>
std::string read_fifo(const std::string& fifo, Read read) {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  bool rescued = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mutex);
    while (!done_cv.wait_for(lock, std::chrono::seconds(5), [&] { return done; })) {
      int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) {
        rescued = true;
        ::close(fd);
      }
    }
  });
  std::string message = error_text<IoError>(read);
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  done_cv.notify_one();
  watchdog.join();
  EXPECT_FALSE(rescued) << "the reader blocked opening the FIFO until a writer came";
  return message;
}

TEST(NonRegularFileTest, FifoIsRefusedWithoutBlocking) {
  TempDir dir;
  const std::string fifo = dir.file("ckpt.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  std::string message = read_fifo(fifo, [&] { SafetensorsFile::read(fifo); });
  GRAFT_EXPECT_CONTAINS(message, "'" + fifo + "' is a FIFO (named pipe), not a regular file");
  GRAFT_EXPECT_CONTAINS(message, "help:");
}

TEST(NonRegularFileTest, DirectoryAndDevicesAreRefused) {
  TempDir dir;
  GRAFT_EXPECT_CONTAINS(error_text<IoError>([&] { SafetensorsFile::read(dir.path().string()); }),
                        "is a directory, not a regular file");
  // /dev/zero never ends; /dev/null looks empty. Neither is a checkpoint.
  GRAFT_EXPECT_CONTAINS(error_text<IoError>([] { SafetensorsFile::read("/dev/zero"); }),
                        "'/dev/zero' is a character device, not a regular file");
  GRAFT_EXPECT_CONTAINS(error_text<IoError>([] { load_safetensors("/dev/null"); }),
                        "'/dev/null' is a character device");
}

TEST(NonRegularFileTest, FashionMnistFileThatIsAFifoIsRefusedWithoutBlocking) {
  TempDir dir;
  const std::string fifo = dir.file("train-images-idx3-ubyte.gz");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  std::string message = read_fifo(
      fifo, [&] { load_fashion_mnist(Split::kTrain, FashionMnistOptions().data_dir(dir.path().string())); });
  GRAFT_EXPECT_CONTAINS(message, "is a FIFO (named pipe), not a regular file");
}

// The issue's file: one shape of millions of entries (here 1M; the issue's had
// 52M in 100 MB and took 6.4 GB). It is refused at the 65th entry, not after
// building a tree of them all.
TEST(HeaderLimitTest, ShapeOfMillionsOfEntriesIsRefusedAtTheRankLimit) {
  std::string shape = "1";
  for (int i = 1; i < 1'000'000; ++i) shape += ",1";
  const std::string bytes =
      make_file(R"({"w":{"dtype":"F32","shape":[)" + shape + R"(],"data_offsets":[0,4]}})", std::string(4, '\0'));
  std::string message = error_text<IoError>([&] { parse_safetensors(bytes, "bomb.safetensors"); });
  GRAFT_EXPECT_CONTAINS(message, "bomb.safetensors: tensor 'w': refused while parsing the header (at byte 157)");
  GRAFT_EXPECT_CONTAINS(message, "array with more elements than the limit of 64 (a shape's rank is at most 64");
  GRAFT_EXPECT_CONTAINS(message, "help:");
}

std::string rank_file(size_t rank) {
  std::string shape = "1";
  for (size_t i = 1; i < rank; ++i) shape += ",1";
  return make_file(R"({"w":{"dtype":"U8","shape":[)" + shape + R"(],"data_offsets":[0,1]}})", std::string(1, '\0'));
}

TEST(HeaderLimitTest, RankUpToTheLimitIsListedAboveItRefused) {
  SafetensorsFile ok = parse_safetensors(rank_file(kMaxFileRank), "r64.safetensors");
  EXPECT_EQ(ok.entry("w").shape.size(), kMaxFileRank);
  GRAFT_EXPECT_CONTAINS(error_text<IoError>([] { parse_safetensors(rank_file(kMaxFileRank + 1), "r65"); }),
                        "limit of 64");
}

std::string metadata_file(size_t entries) {
  std::string metadata;
  for (size_t i = 0; i < entries; ++i) metadata += (i ? ",\"" : "\"") + std::to_string(i) + "\":\"\"";
  return make_file(R"({"__metadata__":{)" + metadata + "}}");
}

TEST(HeaderLimitTest, MetadataEntriesAreBoundedWhileParsing) {
  EXPECT_EQ(parse_safetensors(metadata_file(kMaxMetadataEntries), "m").metadata().size(), kMaxMetadataEntries);
  std::string message = error_text<IoError>([] { parse_safetensors(metadata_file(kMaxMetadataEntries + 1), "m"); });
  GRAFT_EXPECT_CONTAINS(message, "m: __metadata__: refused while parsing the header");
  GRAFT_EXPECT_CONTAINS(message, "object with more members than the limit of 65536");
}

// Arrays within the rank limit still multiply when nested: 64^3 values in
// three levels. The values of one tensor's tree are bounded too.
TEST(HeaderLimitTest, NestedArraysAreBoundedByTheValuesOfOneTree) {
  std::string inner = "[1";
  for (int i = 1; i < 64; ++i) inner += ",1";
  inner += "]";
  std::string middle = "[" + inner;
  for (int i = 1; i < 64; ++i) middle += "," + inner;
  middle += "]";
  std::string outer = "[" + middle;
  for (int i = 1; i < 64; ++i) outer += "," + middle;
  outer += "]";
  std::string message =
      error_text<IoError>([&] { parse_safetensors(make_file(R"({"w":{"shape":)" + outer + "}}"), "nest"); });
  GRAFT_EXPECT_CONTAINS(message, "nest: tensor 'w': refused while parsing the header");
  GRAFT_EXPECT_CONTAINS(message, "more values in one tree than the limit of 65537");
}

TEST(HeaderLimitTest, SyntaxErrorsStillReadAsSuch) {
  std::string message = error_text<IoError>([] {
    parse_safetensors(make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})", std::string(4, '\0')),
                      "bad");
  });
  GRAFT_EXPECT_CONTAINS(message, "header is not valid JSON");
}

TEST(PrintableTest, ControlCharactersAndNewlinesAreEscaped) {
  EXPECT_EQ(printable("dense/kernel"), "dense/kernel");
  EXPECT_EQ(printable("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(printable("\x1b[2J\x07"), "\\x1b[2J\\x07");
  EXPECT_EQ(printable(std::string("nul\0end", 7)), "nul\\x00end");
  EXPECT_EQ(printable("del\x7f"), "del\\x7f");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");  // so "\\n" and a newline print differently
}

TEST(PrintableTest, ValidUtf8PassesButHiddenCharactersAndBadBytesAreEscaped) {
  EXPECT_EQ(printable("poids/\xc3\xa9t\xc3\xa9/\xe4\xb8\xad"), "poids/\xc3\xa9t\xc3\xa9/\xe4\xb8\xad");
  EXPECT_EQ(printable("\xc2\x9b" "31m"), "\\u{009b}31m");        // C1 CSI
  EXPECT_EQ(printable("a\xe2\x80\xae" "cba"), "a\\u{202e}cba");  // right-to-left override
  EXPECT_EQ(printable("line\xe2\x80\xa8sep"), "line\\u{2028}sep");
  EXPECT_EQ(printable("bad\xff\xc0\x80"), "bad\\xff\\xc0\\x80");  // not UTF-8, overlong
}

TEST(PrintableTest, InspectAndReportsEscapeKeysAndMetadata) {
  // The writer refuses nothing here: these are valid UTF-8 keys and values.
  const std::string evil_key = "w\x1b]0;pwned\x07\nfake line";
  const NamedTensors tensors = {{evil_key, Tensor::scalar<float>(1)}};
  TempDir dir;
  save_safetensors(dir.file("evil"), tensors, {{"note\r", "\x1b[2Jcleared"}});
  SafetensorsFile file = SafetensorsFile::read(dir.file("evil"));
  const std::string listing = inspect_safetensors(file);
  GRAFT_EXPECT_CONTAINS(listing, "w\\x1b]0;pwned\\x07\\nfake line");
  GRAFT_EXPECT_CONTAINS(listing, "note\\r = \\x1b[2Jcleared");
  const std::string report = diff_safetensors(file, std::vector<NamedShape>{}).to_string();
  GRAFT_EXPECT_CONTAINS(report, "key 'w\\x1b]0;pwned\\x07\\nfake line'");
  const std::string missing = error_text<NotFoundError>([&] { file.load("x\x1b"); });
  GRAFT_EXPECT_CONTAINS(missing, "no tensor 'x\\x1b'");
  for (const std::string& text : {listing, report, missing}) {
    // One line per row: no raw escape, carriage return or forged newline.
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
    EXPECT_EQ(text.find('\r'), std::string::npos) << text;
    EXPECT_EQ(text.find("\nfake line"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace graft::io
