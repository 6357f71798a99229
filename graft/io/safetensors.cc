#include "graft/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "graft/io/internal/json.h"
#include "graft/io/internal/regular_file.h"
#include "graft/io/internal/save_hook.h"
#include "graft/io/printable.h"

namespace graft::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; graft copies it as is");

namespace {

using internal::JsonKind;
using internal::JsonValue;

struct DTypeInfo {
  std::string_view name;
  size_t size;
};

constexpr std::array<DTypeInfo, static_cast<size_t>(FileDType::kCount)> kDTypes = {{
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
    {"I32", 4}, {"U32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8},
    {"F8_E4M3", 1}, {"F8_E5M2", 1},
}};

std::function<void(uint64_t)>& save_hook() {
  static std::function<void(uint64_t)> hook;
  return hook;
}

// "file.safetensors: tensor 'w': <what>" plus an optional help line.
[[noreturn]] void fail(const std::string& file, const std::string& key, const std::string& what,
                       const std::string& help = "") {
  std::string message = file + ": ";
  if (!key.empty()) message += "tensor '" + printable(key) + "': ";
  message += what;
  if (!help.empty()) message += "\n  help: " + help;
  throw IoError(message);
}

[[noreturn]] void fail_errno(const std::string& what, const std::string& path) {
  throw IoError(what + " '" + path + "': " + std::strerror(errno));
}

std::string dims_string(std::span<const int64_t> dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

const char kHelpCorrupt[] = "the file is corrupt or was not written by a safetensors writer";

// Reads a non-negative integer field of a tensor entry.
uint64_t read_offset(const std::string& file, const std::string& key, const JsonValue& v,
                     const char* what) {
  if (v.kind != JsonKind::kInteger) {
    fail(file, key, std::string(what) + ": expected a non-negative integer, found " +
                        std::string(internal::json_kind_name(v.kind)));
  }
  if (v.integer < 0) {
    fail(file, key, std::string(what) + ": expected a non-negative integer, found " +
                        std::to_string(v.integer));
  }
  return static_cast<uint64_t>(v.integer);
}

TensorEntry parse_entry(const std::string& file, const std::string& key, const JsonValue& v,
                        uint64_t data_size) {
  if (v.kind != JsonKind::kObject) {
    fail(file, key, "expected an object with dtype, shape and data_offsets, found " +
                        std::string(internal::json_kind_name(v.kind)));
  }
  const JsonValue* dtype = nullptr;
  const JsonValue* shape = nullptr;
  const JsonValue* offsets = nullptr;
  for (const auto& [field, value] : v.object) {
    const JsonValue** slot = field == "dtype"          ? &dtype
                             : field == "shape"        ? &shape
                             : field == "data_offsets" ? &offsets
                                                       : nullptr;
    if (slot == nullptr) {
      fail(file, key, "unknown field '" + printable(field) + "' (expected dtype, shape, data_offsets)");
    }
    if (*slot != nullptr) fail(file, key, "field '" + printable(field) + "' appears twice");
    *slot = &value;
  }
  if (dtype == nullptr) fail(file, key, "missing field 'dtype'");
  if (shape == nullptr) fail(file, key, "missing field 'shape'");
  if (offsets == nullptr) fail(file, key, "missing field 'data_offsets'");

  TensorEntry entry;
  entry.key = key;
  if (dtype->kind != JsonKind::kString) {
    fail(file, key, "dtype: expected a string, found " + std::string(internal::json_kind_name(dtype->kind)));
  }
  std::optional<FileDType> d = parse_file_dtype(dtype->string);
  if (!d) {
    fail(file, key, "unknown dtype '" + printable(dtype->string) + "'",
         "known dtypes: BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64 F8_E4M3 F8_E5M2");
  }
  entry.dtype = *d;

  if (shape->kind != JsonKind::kArray) {
    fail(file, key, "shape: expected an array of integers, found " +
                        std::string(internal::json_kind_name(shape->kind)));
  }
  // Counted in uint64 with overflow checks: a hostile shape must not wrap.
  uint64_t numel = 1;
  bool overflow = false;
  bool has_zero = false;
  for (const JsonValue& dim : shape->array) {
    if (dim.kind != JsonKind::kInteger) {
      fail(file, key, "shape: expected integers, found " + std::string(internal::json_kind_name(dim.kind)));
    }
    entry.shape.push_back(dim.integer);
    if (dim.integer < 0) {
      fail(file, key, "shape " + dims_string(entry.shape) + " has a negative entry " +
                          std::to_string(dim.integer), kHelpCorrupt);
    }
    has_zero |= dim.integer == 0;
    overflow |= __builtin_mul_overflow(numel, static_cast<uint64_t>(dim.integer), &numel);
  }
  if (has_zero) {  // an empty tensor, however large its other dimensions
    numel = 0;
    overflow = false;
  }
  uint64_t nbytes = 0;
  overflow |= __builtin_mul_overflow(numel, file_dtype_size(entry.dtype), &nbytes);

  if (offsets->kind != JsonKind::kArray || offsets->array.size() != 2) {
    fail(file, key, "data_offsets: expected an array [begin, end], found " +
                        (offsets->kind == JsonKind::kArray
                             ? "an array of " + std::to_string(offsets->array.size()) + " values"
                             : std::string(internal::json_kind_name(offsets->kind))));
  }
  entry.begin = read_offset(file, key, offsets->array[0], "data_offsets[0]");
  entry.end = read_offset(file, key, offsets->array[1], "data_offsets[1]");
  std::string range = "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + ")";
  if (entry.end < entry.begin) fail(file, key, "data_offsets " + range + " end before they begin", kHelpCorrupt);
  if (entry.end > data_size) {
    fail(file, key, "data_offsets " + range + " lie outside the data section of " +
                        std::to_string(data_size) + " bytes", "the file is truncated or corrupt");
  }
  if (overflow || nbytes != entry.end - entry.begin) {
    fail(file, key, "size mismatch: shape " + dims_string(entry.shape) + " of " +
                        std::string(file_dtype_name(entry.dtype)) + " needs " +
                        (overflow ? std::string("more than 2^64") : std::to_string(nbytes)) +
                        " bytes, data_offsets " + range + " hold " + std::to_string(entry.end - entry.begin),
         kHelpCorrupt);
  }
  return entry;
}

// The bounds parsing enforces as it goes (see kMaxFileRank).
const internal::JsonLimits& header_limits() {
  static const internal::JsonLimits limits = [] {
    internal::JsonLimits l;
    l.max_array_length = kMaxFileRank;
    l.array_reason = "a shape's rank is at most " + std::to_string(kMaxFileRank) + " and data_offsets has 2 values";
    l.max_object_members = kMaxMetadataEntries;
    l.object_reason = "the limit for __metadata__ entries and for the fields of a tensor";
    // __metadata__ (each entry a key and a string) is the largest legitimate tree.
    l.max_values = kMaxMetadataEntries + 1;
    l.values_reason = "a tensor's description or __metadata__ holds at most " + std::to_string(l.max_values) +
                      " values";
    return l;
  }();
  return limits;
}

Metadata parse_metadata(const std::string& file, JsonValue v) {
  if (v.kind != JsonKind::kObject) {
    fail(file, "", "__metadata__: expected an object of strings, found " +
                       std::string(internal::json_kind_name(v.kind)));
  }
  Metadata out;
  for (auto& [key, value] : v.object) {
    if (value.kind != JsonKind::kString) {
      fail(file, "", "__metadata__ entry '" + printable(key) + "': expected a string, found " +
                         std::string(internal::json_kind_name(value.kind)));
    }
    if (!out.emplace(key, std::move(value.string)).second) {
      fail(file, "", "__metadata__ entry '" + printable(key) + "' appears twice");
    }
  }
  return out;
}

// Every byte of the data section belongs to exactly one tensor.
void check_coverage(const std::string& file, const std::vector<TensorEntry>& entries, uint64_t data_size) {
  std::vector<const TensorEntry*> sorted;
  for (const TensorEntry& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry* e : sorted) {
    if (e->begin < covered) {
      fail(file, e->key, "data_offsets [" + std::to_string(e->begin) + ", " + std::to_string(e->end) +
                             ") overlap tensor '" + printable(previous->key) + "' (which ends at " +
                             std::to_string(covered) + ")", kHelpCorrupt);
    }
    if (e->begin > covered) {
      fail(file, e->key, "gap: data bytes [" + std::to_string(covered) + ", " + std::to_string(e->begin) +
                             ") before this tensor belong to no tensor", kHelpCorrupt);
    }
    covered = e->end;
    previous = e;
  }
  if (covered != data_size) {
    fail(file, previous == nullptr ? "" : previous->key,
         "gap: the data section has " + std::to_string(data_size) + " bytes but the tensors cover only " +
             std::to_string(covered), kHelpCorrupt);
  }
}

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float32.
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  uint32_t bits = exponent == 31 ? sign | 0x7f800000u | (mantissa << 13)
                                 : sign | ((exponent + 112) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

// Converts n stored elements of type S to T.
template <typename S, typename T>
void convert(const char* src, T* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    S value;
    std::memcpy(&value, src + i * sizeof(S), sizeof(S));
    dst[i] = static_cast<T>(value);
  }
}

void write_all(int fd, const char* data, size_t n, const std::string& path, uint64_t& written) {
  // Chunks keep each write() moderate and give the test hook its points.
  constexpr size_t kChunk = size_t{4} << 20;
  while (n > 0) {
    size_t part = std::min(n, kChunk);
    ssize_t r = ::write(fd, data, part);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot write", path);
    }
    data += r;
    n -= static_cast<size_t>(r);
    written += static_cast<uint64_t>(r);
    if (save_hook()) save_hook()(written);
  }
}

std::string build_header(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      GRAFT_CHECK(internal::is_valid_utf8(key) && internal::is_valid_utf8(value),
                  "save_safetensors: metadata entry '", key, "' is not valid UTF-8");
      if (!first) header += ',';
      first = false;
      internal::append_json_string(header, key);
      header += ':';
      internal::append_json_string(header, value);
    }
    header += "},";
  }
  std::unordered_set<std::string_view> seen;
  uint64_t offset = 0;
  for (const auto& [key, tensor] : tensors) {
    GRAFT_CHECK(!key.empty(), "save_safetensors: a tensor has an empty key (saving ", path, ")");
    GRAFT_CHECK(key != "__metadata__", "save_safetensors: the key '__metadata__' is reserved");
    GRAFT_CHECK(internal::is_valid_utf8(key), "save_safetensors: key '", key, "' is not valid UTF-8");
    GRAFT_CHECK(seen.insert(key).second, "save_safetensors: key '", key, "' appears twice");
    GRAFT_CHECK(tensor.defined(), "save_safetensors: tensor '", key, "' is undefined");
    GRAFT_CHECK(!tensor.is_symbolic(), "save_safetensors: tensor '", key,
                "' is symbolic (it has no values outside a running graft::function)");
    internal::append_json_string(header, key);
    header += ":{\"dtype\":\"";
    header += file_dtype_name(to_file_dtype(tensor.dtype()));
    header += "\",\"shape\":[";
    for (int i = 0; i < tensor.rank(); ++i) {
      if (i > 0) header += ',';
      header += std::to_string(tensor.shape()[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + ',' +
              std::to_string(offset + tensor.nbytes()) + "]},";
    offset += tensor.nbytes();
  }
  if (header.back() == ',') header.pop_back();
  header += '}';
  // Spaces up to a multiple of 8 keep the data section 8-byte aligned.
  header.append((8 - (8 + header.size()) % 8) % 8, ' ');
  return header;
}

}  // namespace

namespace internal {

void set_save_progress_hook(std::function<void(uint64_t)> hook) { save_hook() = std::move(hook); }

}  // namespace internal

std::string_view file_dtype_name(FileDType d) { return kDTypes.at(static_cast<size_t>(d)).name; }

size_t file_dtype_size(FileDType d) { return kDTypes.at(static_cast<size_t>(d)).size; }

std::optional<FileDType> parse_file_dtype(std::string_view name) {
  for (size_t i = 0; i < kDTypes.size(); ++i) {
    if (kDTypes[i].name == name) return static_cast<FileDType>(i);
  }
  return std::nullopt;
}

FileDType to_file_dtype(DType d) {
  switch (d) {
    case DType::kFloat32: return FileDType::kF32;
    case DType::kFloat64: return FileDType::kF64;
    case DType::kInt64: return FileDType::kI64;
    case DType::kCount: break;
  }
  throw_invalid_dtype(d, "to_file_dtype");  // never saved as some guessed dtype
}

std::optional<DType> loaded_dtype(FileDType d) {
  switch (d) {
    case FileDType::kF32: case FileDType::kF16: case FileDType::kBF16: return DType::kFloat32;
    case FileDType::kF64: return DType::kFloat64;
    case FileDType::kI64: case FileDType::kBool: case FileDType::kU8: case FileDType::kI8:
    case FileDType::kI16: case FileDType::kU16: case FileDType::kI32: case FileDType::kU32:
      return DType::kInt64;
    case FileDType::kU64: case FileDType::kF8E4M3: case FileDType::kF8E5M2: return std::nullopt;
    case FileDType::kCount: break;
  }
  GRAFT_INTERNAL_ASSERT(false, "loaded_dtype: invalid FileDType value ", static_cast<int>(d));
}

int64_t TensorEntry::numel() const {
  // Validated: a non-empty tensor's count fits, since its bytes fit the file.
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorEntry::shape_string() const { return dims_string(shape); }

SafetensorsFile SafetensorsFile::parse(std::string bytes, std::string name) {
  SafetensorsFile file;
  file.name_ = std::move(name);
  const std::string& f = file.name_;
  const uint64_t size = bytes.size();
  if (size < 8) {
    fail(f, "", "file is " + std::to_string(size) + " bytes, too short for the 8-byte header length",
         "the file is truncated or not a safetensors file");
  }
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kMaxHeaderBytes) {
    fail(f, "", "header length " + std::to_string(n) + " exceeds the limit of " +
                    std::to_string(kMaxHeaderBytes) + " bytes", "the file is corrupt or not a safetensors file");
  }
  if (n > size - 8) {
    fail(f, "", "header length " + std::to_string(n) + " runs past the end of the file (" +
                    std::to_string(size - 8) + " bytes follow the length)",
         "the file is truncated; save it again");
  }
  std::string_view header(bytes.data() + 8, n);
  if (header.empty() || header[0] != '{') {
    fail(f, "", "header does not start with '{'", "the file is corrupt or not a safetensors file");
  }
  file.data_start_ = 8 + n;
  const uint64_t data_size = size - file.data_start_;
  bool have_metadata = false;
  // Each top-level member is turned into a TensorEntry as soon as it is
  // parsed, so the JSON tree never holds more than one tensor's description
  // (a whole tree costs ~50x the header; see internal/json.h).
  auto on_member = [&](std::string key, JsonValue value) {
    if (key == "__metadata__") {
      if (have_metadata) fail(f, "", "__metadata__ appears twice in the header", kHelpCorrupt);
      have_metadata = true;
      file.metadata_ = parse_metadata(f, std::move(value));
      return;
    }
    if (key.empty()) fail(f, "", "a tensor has an empty key", kHelpCorrupt);
    if (file.index_.contains(key)) fail(f, key, "key appears twice in the header", kHelpCorrupt);
    file.entries_.push_back(parse_entry(f, key, value, data_size));
    file.index_.emplace(std::move(key), file.entries_.size() - 1);
  };
  try {
    internal::parse_json_members(header, header_limits(), on_member);
  } catch (const internal::JsonLimitError& e) {
    const bool in_metadata = e.member() == "__metadata__";
    fail(f, in_metadata ? "" : e.member(),
         std::string(in_metadata ? "__metadata__: " : "") + "refused while parsing the header (at byte " +
             std::to_string(e.offset()) + "): " + e.what(),
         "the file is corrupt or was not written for graft's reader, which bounds every part of a header "
         "so that a hostile file cannot exhaust memory");
  } catch (const internal::JsonError& e) {
    fail(f, "", std::string("header is not valid JSON (at byte ") + std::to_string(e.offset()) +
                    " of the header): " + e.what(), kHelpCorrupt);
  }
  check_coverage(f, file.entries_, data_size);
  file.bytes_ = std::make_shared<const std::string>(std::move(bytes));
  return file;
}

SafetensorsFile SafetensorsFile::read(const std::string& path) {
  internal::RegularFile opened = internal::open_regular_file(path);
  if (opened.fd < 0 && opened.kind.empty()) {
    errno = opened.os_error;
    fail_errno("cannot open", path);
  }
  if (opened.fd < 0) throw IoError("'" + path + "' " + internal::not_regular_message(opened));
  const int fd = opened.fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail_errno("cannot stat", path);
  }
  std::string bytes;
  try {
    // Sized from the file system, never from the file's contents.
    bytes.resize(static_cast<size_t>(st.st_size));
  } catch (const std::bad_alloc&) {
    ::close(fd);
    throw IoError("'" + path + "': not enough memory to read its " + std::to_string(st.st_size) + " bytes");
  }
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ::close(fd);
      fail_errno("cannot read", path);
    }
    if (r == 0) break;  // shrank while we read: parse what is there
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  bytes.resize(got);
  return parse(std::move(bytes), path);
}

const TensorEntry& SafetensorsFile::entry(std::string_view key) const {
  auto it = index_.find(std::string(key));
  if (it == index_.end()) {
    throw NotFoundError(name_ + ": no tensor '" + printable(key) + "' (the file has " +
                        std::to_string(entries_.size()) + " tensors)");
  }
  return entries_[it->second];
}

std::span<const char> SafetensorsFile::raw(std::string_view key) const {
  const TensorEntry& e = entry(key);
  return {bytes_->data() + data_start_ + e.begin, static_cast<size_t>(e.nbytes())};
}

Tensor SafetensorsFile::load(std::string_view key) const {
  const TensorEntry& e = entry(key);
  std::optional<DType> dtype = loaded_dtype(e.dtype);
  if (!dtype) {
    fail(name_, e.key, "graft cannot load dtype " + std::string(file_dtype_name(e.dtype)),
         "convert it to F32, F64 or I64 before loading");
  }
  if (e.shape.size() > static_cast<size_t>(kMaxRank)) {
    fail(name_, e.key, "rank " + std::to_string(e.shape.size()) + " exceeds graft's maximum rank " +
                           std::to_string(kMaxRank));
  }
  // Shape arithmetic (numel, strides) multiplies every dimension, zeros or
  // not, so an empty tensor's other dimensions must fit together in int64.
  int64_t product = 1;
  for (int64_t d : e.shape) {
    if (d != 0 && __builtin_mul_overflow(product, d, &product)) {
      fail(name_, e.key, "shape " + e.shape_string() + " is too large for graft (dimensions overflow int64)");
    }
  }
  Tensor t = Tensor::empty(Shape(std::span<const int64_t>(e.shape)), *dtype);
  const char* src = raw(key).data();
  const int64_t n = e.numel();
  switch (e.dtype) {
    case FileDType::kF32: case FileDType::kF64: case FileDType::kI64:
      if (n > 0) std::memcpy(t.raw_data(), src, e.nbytes());
      break;
    case FileDType::kF16: case FileDType::kBF16: {
      float* dst = t.data<float>();
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = e.dtype == FileDType::kF16 ? half_to_float(h)
                                            : std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
      }
      break;
    }
    case FileDType::kBool: convert<uint8_t>(src, t.data<int64_t>(), n); break;
    case FileDType::kU8: convert<uint8_t>(src, t.data<int64_t>(), n); break;
    case FileDType::kI8: convert<int8_t>(src, t.data<int64_t>(), n); break;
    case FileDType::kI16: convert<int16_t>(src, t.data<int64_t>(), n); break;
    case FileDType::kU16: convert<uint16_t>(src, t.data<int64_t>(), n); break;
    case FileDType::kI32: convert<int32_t>(src, t.data<int64_t>(), n); break;
    case FileDType::kU32: convert<uint32_t>(src, t.data<int64_t>(), n); break;
    case FileDType::kU64: case FileDType::kF8E4M3: case FileDType::kF8E5M2: case FileDType::kCount:
      // loaded_dtype() refused these above.
      GRAFT_INTERNAL_ASSERT(false, "load: unhandled dtype ", static_cast<int>(e.dtype));
  }
  return t;
}

NamedTensors SafetensorsFile::load_all() const {
  NamedTensors out;
  out.reserve(entries_.size());
  for (const TensorEntry& e : entries_) out.emplace_back(e.key, load(e.key));
  return out;
}

SafetensorsFile parse_safetensors(std::string_view bytes, std::string name) {
  return SafetensorsFile::parse(std::string(bytes), std::move(name));
}

NamedTensors load_safetensors(const std::string& path, Metadata* metadata) {
  SafetensorsFile file = SafetensorsFile::read(path);
  if (metadata != nullptr) *metadata = file.metadata();
  return file.load_all();
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  std::string header = build_header(path, tensors, metadata);
  const std::filesystem::path target(path);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_errno("cannot create", tmp);
  try {
    uint64_t written = 0;
    const uint64_t n = header.size();
    write_all(fd, reinterpret_cast<const char*>(&n), 8, tmp, written);
    write_all(fd, header.data(), header.size(), tmp, written);
    for (const auto& [key, tensor] : tensors) {
      if (tensor.nbytes() > 0) {
        write_all(fd, static_cast<const char*>(tensor.raw_data()), tensor.nbytes(), tmp, written);
      }
    }
    if (::fsync(fd) != 0) fail_errno("cannot fsync", tmp);
    if (::close(fd) != 0) {
      fd = -1;
      fail_errno("cannot close", tmp);
    }
    fd = -1;
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail_errno("cannot rename the temporary file onto", path);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // The rename is durable only once the folder itself is on disk.
  std::string folder = target.parent_path().empty() ? "." : target.parent_path().string();
  int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) fail_errno("cannot open folder", folder);
  int rc = ::fsync(dir);
  ::close(dir);
  if (rc != 0) fail_errno("cannot fsync folder", folder);
}

}  // namespace graft::io
