// graft/io/safetensors.h: checkpoints in the safetensors format, readable by
// PyTorch, JAX and Hugging Face tools, and a reader that treats every file as
// hostile.
//
//   save_safetensors("run3.safetensors", {{"dense/kernel", w}, {"dense/bias", b}},
//                    {{"step", "1200"}});
//   SafetensorsFile file = SafetensorsFile::read("run3.safetensors");
//   Tensor w2 = file.load("dense/kernel");
//   std::string step = file.metadata().at("step");
//
// Byte layout (all integers little-endian):
//
//   offset 0      u64 N, the header length in bytes (graft reads at most
//                 kMaxHeaderBytes)
//   offset 8      N bytes of UTF-8 JSON, one object:
//                   {"__metadata__": {"step": "1200"},            (optional)
//                    "dense/kernel": {"dtype": "F32", "shape": [784, 10],
//                                     "data_offsets": [0, 31360]},
//                    ...}
//                 it starts with '{' and may be padded at the end with spaces
//                 (graft pads to a multiple of 8 so the data stays aligned)
//   offset 8 + N  the data section: every tensor's elements, row-major,
//                 little-endian, with no gaps, overlaps or trailing bytes.
//                 data_offsets [begin, end) are relative to this point, and
//                 end - begin == product(shape) * size(dtype); shape [] is a
//                 scalar (one element), a 0 in the shape an empty tensor.
//
// dtypes: BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64 F8_E4M3 F8_E5M2.
// The reader validates them all (so `inspect` lists any file); load() gives
// F32, F64 and I64 as they are, converts F16 and BF16 to float32 and BOOL, U8,
// I8, I16, U16, I32, U32 to int64 (all exact), and rejects U64 and F8_*.
// The writer writes float32 as F32, float64 as F64, int64 as I64.
//
// Errors: every problem with a file is a graft::IoError whose message names
// the file and, where there is one, the key, says what was expected and what
// was found, and ends with a help: line where one helps. A malformed file is
// never a crash, a hang or an allocation larger than a small multiple of the
// file itself. A path that is not a regular file (a FIFO, a device, a folder)
// is refused before it is read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "graft/tensor/tensor.h"

namespace graft::io {

// The largest header the reader accepts (the safetensors library's own bound).
inline constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
// The largest rank the reader accepts (load() needs rank <= kMaxRank), and
// the most __metadata__ entries. Both are checked while the header is parsed,
// so a hostile header is refused before it costs memory: the reader's memory
// stays a small multiple of the file's size. The number of tensors is bounded
// by kMaxHeaderBytes (each takes at least 50 bytes of header).
inline constexpr size_t kMaxFileRank = 64;
inline constexpr size_t kMaxMetadataEntries = 65536;

// Element types a safetensors file can declare.
enum class FileDType : uint8_t {
  kBool, kU8, kI8, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64,
  kF8E4M3, kF8E5M2, kCount
};

// "F32", "BF16", ... as written in the header.
std::string_view file_dtype_name(FileDType d);
size_t file_dtype_size(FileDType d);
// The dtype a header string names, or nullopt.
std::optional<FileDType> parse_file_dtype(std::string_view name);
// How a graft dtype is stored.
FileDType to_file_dtype(DType d);
// The graft dtype load() returns for a stored dtype, or nullopt when graft
// cannot load it (U64, F8_*).
std::optional<DType> loaded_dtype(FileDType d);

// One tensor as the header describes it.
struct TensorEntry {
  std::string key;                    // the tensor's name in the file
  FileDType dtype = FileDType::kF32;  // as stored
  std::vector<int64_t> shape;  // any rank; load() needs rank <= kMaxRank
  uint64_t begin = 0;          // byte range [begin, end) in the data section
  uint64_t end = 0;            // one past the last byte

  // The number of values (the product of the shape), and the stored bytes.
  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
  std::string shape_string() const;  // "[784, 10]"
};

// Tensors with their keys, in file order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// The header's __metadata__ entries (string to string).
using Metadata = std::map<std::string, std::string>;

// A validated safetensors file held in memory. Immutable after construction;
// safe to read from several threads.
class SafetensorsFile {
 public:
  // Reads and validates the file at `path`; throws IoError.
  static SafetensorsFile read(const std::string& path);
  // Validates bytes already in memory; `name` stands for the file in
  // messages. Throws IoError.
  static SafetensorsFile parse(std::string bytes, std::string name);

  // The file's name in messages (its path, or the name given to parse()).
  const std::string& name() const { return name_; }
  // Entries in the order the header lists them.
  const std::vector<TensorEntry>& entries() const { return entries_; }
  // The header's metadata, the file's size, and the JSON header's size.
  const Metadata& metadata() const { return metadata_; }
  uint64_t file_size() const { return bytes_->size(); }
  uint64_t header_size() const { return data_start_ - 8; }

  // Whether the file holds a tensor named `key`.
  bool contains(std::string_view key) const { return index_.contains(std::string(key)); }
  // Throws NotFoundError naming the file and the key.
  const TensorEntry& entry(std::string_view key) const;
  // The stored bytes of one tensor (little-endian, unaligned).
  std::span<const char> raw(std::string_view key) const;
  // A fresh tensor with the key's values, converted as the file comment says.
  // Throws NotFoundError for an unknown key, IoError for a dtype graft cannot
  // load or a rank above kMaxRank.
  Tensor load(std::string_view key) const;
  // Every tensor, in header order.
  NamedTensors load_all() const;

 private:
  SafetensorsFile() = default;

  std::string name_;
  std::shared_ptr<const std::string> bytes_;
  uint64_t data_start_ = 0;
  std::vector<TensorEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
  Metadata metadata_;
};

// Same as SafetensorsFile::parse (the fuzzing entry point).
SafetensorsFile parse_safetensors(std::string_view bytes, std::string name);

// Reads every tensor of `path` (header order); fills `metadata` when given.
NamedTensors load_safetensors(const std::string& path, Metadata* metadata = nullptr);

// Writes `tensors` (in this order) and `metadata` to `path` atomically: the
// bytes go to `path`.tmp.PID (PID: the process id) in the same folder, which
// is fsynced, renamed over `path`, and the folder fsynced. A crash at any
// point leaves either the old file or the new one at `path`, never a mix (a
// crash may leave the temporary file behind). Throws ValueError for an empty,
// duplicate or non-UTF-8 key, the reserved key "__metadata__", or an
// undefined or symbolic tensor; IoError when the file system fails (the old
// file is then intact).
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const Metadata& metadata = {});

}  // namespace graft::io
