#include "graft/io/restore.h"

#include <algorithm>
#include <unordered_map>

#include "graft/io/internal/restore_entry.h"
#include "graft/io/printable.h"

namespace graft::io {
namespace {

using internal::dims_string;
using internal::load_entry;
using internal::RestoreTarget;
using Target = RestoreTarget;

// A matched key still to be written.
struct PendingWrite {
  size_t entry;              // index in the report
  size_t target;             // index in the targets
  std::optional<Tensor> value;  // from the transform hook; else load the key
};

RestoreReport classify(const SafetensorsFile& file, const std::vector<Target>& targets,
                       const RestoreOptions& options, std::vector<PendingWrite>* writes) {
  std::unordered_map<std::string, size_t> by_name;
  for (size_t i = 0; i < targets.size(); ++i) {
    GRAFT_CHECK(by_name.emplace(targets[i].name, i).second, "restore: target '", targets[i].name,
                "' is listed twice");
  }
  std::vector<std::string> claimed_by(targets.size());
  RestoreReport report;
  report.file = file.name();
  for (const TensorEntry& saved : file.entries()) {
    RestoreEntry e;
    e.key = saved.key;
    e.file_shape = saved.shape;
    e.file_dtype = std::string(file_dtype_name(saved.dtype));
    std::optional<MappedKey> mapped = options.key_map() ? options.key_map()(saved.key) : MappedKey{saved.key};
    auto it = mapped ? by_name.find(mapped->name) : by_name.end();
    if (it == by_name.end()) {
      e.status = RestoreStatus::kUnexpected;
      if (mapped && mapped->name != saved.key) e.detail = "maps to '" + printable(mapped->name) + "', which is no target";
      report.entries.push_back(std::move(e));
      continue;
    }
    const Target& target = targets[it->second];
    e.target = target.name;
    e.target_shape = target.shape;
    e.target_dtype = target.dtype_name;
    if (!claimed_by[it->second].empty()) {
      e.status = RestoreStatus::kUnexpected;
      e.detail = "target '" + printable(target.name) + "' is already restored from '" + printable(claimed_by[it->second]) + "'";
      e.target.clear();
      report.entries.push_back(std::move(e));
      continue;
    }
    claimed_by[it->second] = saved.key;
    std::optional<Tensor> value = internal::decide_entry(file, saved, mapped->transpose, target, options.transform(), e);
    if (e.status == RestoreStatus::kMatched && writes != nullptr) {
      writes->push_back({report.entries.size(), it->second, std::move(value)});
    }
    report.entries.push_back(std::move(e));
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!claimed_by[i].empty()) continue;
    RestoreEntry e;
    e.status = RestoreStatus::kMissing;
    e.target = targets[i].name;
    e.target_shape = targets[i].shape;
    e.target_dtype = targets[i].dtype_name;
    report.entries.push_back(std::move(e));
  }
  return report;
}

std::string summary(const RestoreReport& report) {
  std::string out;
  for (int s = 0; s < static_cast<int>(RestoreStatus::kCount); ++s) {
    size_t n = report.count(static_cast<RestoreStatus>(s));
    if (n == 0) continue;
    if (!out.empty()) out += ", ";
    out += std::to_string(n) + " " + std::string(restore_status_name(static_cast<RestoreStatus>(s)));
  }
  return out.empty() ? "nothing to restore" : out;
}

std::string entry_line(const RestoreEntry& e) {
  std::string line = std::string(restore_status_name(e.status)) + ": ";
  switch (e.status) {
    case RestoreStatus::kMissing:
      return line + "'" + printable(e.target) + "' " + dims_string(e.target_shape) + " " + e.target_dtype +
             " has no key in the file (kept at its initial value)";
    case RestoreStatus::kUnexpected:
      line += "key '" + printable(e.key) + "' " + dims_string(e.file_shape) + " " + e.file_dtype + " has no target";
      break;
    case RestoreStatus::kMatched:
    case RestoreStatus::kShapeMismatch:
    case RestoreStatus::kDTypeMismatch:
      line += "'" + printable(e.target) + "'";
      if (e.key != e.target) line += " <- '" + printable(e.key) + "'";
      if (e.status == RestoreStatus::kMatched) line += " " + dims_string(e.target_shape) + " " + e.target_dtype;
      if (e.transposed) line += " (transposed)";
      if (e.transformed) line += " (transformed from " + dims_string(e.file_shape) + " " + e.file_dtype + ")";
      break;
    case RestoreStatus::kCount:
      GRAFT_INTERNAL_ASSERT(false, "a restore entry with status kCount");
  }
  if (!e.detail.empty()) line += ": " + e.detail;
  return line;
}

std::vector<Target> targets_of(const NamedTensors& tensors) {
  std::vector<Target> out;
  for (const auto& [name, t] : tensors) {
    GRAFT_CHECK(t.defined(), "restore: target '", name, "' is undefined");
    out.push_back(internal::restore_target(name, t));
  }
  return out;
}

Tensor transpose_2d(const Tensor& t) {
  const int64_t rows = t.shape()[0];
  const int64_t cols = t.shape()[1];
  Tensor out = Tensor::empty(Shape{cols, rows}, t.dtype());
  visit_dtype(t.dtype(), [&]<typename T>(T) {
    const T* src = t.data<T>();
    T* dst = out.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
    }
  });
  return out;
}

}  // namespace

namespace internal {

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i > 0 ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

RestoreTarget restore_target(const std::string& name, const Tensor& tensor) {
  Shape s = tensor.shape();
  return {name, std::vector<int64_t>(s.begin(), s.end()), tensor.dtype(),
          std::string(file_dtype_name(to_file_dtype(tensor.dtype()))), &tensor};
}

Tensor load_entry(const SafetensorsFile& file, const RestoreEntry& e) {
  Tensor saved = file.load(e.key);
  return e.transposed ? transpose_2d(saved) : saved;
}

std::optional<Tensor> decide_entry(const SafetensorsFile& file, const TensorEntry& saved, bool transpose,
                                   const RestoreTarget& target, const TransformHook& transform, RestoreEntry& e) {
  e.file_shape = saved.shape;
  e.file_dtype = std::string(file_dtype_name(saved.dtype));
  e.target = target.name;
  e.target_shape = target.shape;
  e.target_dtype = target.dtype_name;
  std::vector<int64_t> shape = saved.shape;
  e.transposed = transpose;
  if (e.transposed && shape.size() != 2) {
    e.status = RestoreStatus::kShapeMismatch;
    e.detail = "the key map asks to transpose, which needs a 2-D tensor, found " + dims_string(shape);
    e.transposed = false;
    return std::nullopt;
  }
  if (e.transposed) std::swap(shape[0], shape[1]);
  const std::optional<DType> dtype = loaded_dtype(saved.dtype);
  bool same = shape == target.shape && dtype.has_value() && dtype == target.dtype;
  std::optional<Tensor> value;
  if (!same && dtype && transform && target.tensor != nullptr && shape.size() <= static_cast<size_t>(kMaxRank)) {
    value = transform(target.name, load_entry(file, e), *target.tensor);
    if (value) {
      GRAFT_CHECK(value->defined() && value->shape() == target.tensor->shape() &&
                      value->dtype() == target.tensor->dtype(),
                  "restore: the transform hook returned ",
                  value->defined() ? value->shape().to_string() + " " + std::string(dtype_name(value->dtype()))
                                   : std::string("an undefined tensor"),
                  " for target '", target.name, "', which is ", target.tensor->shape().to_string(), " ",
                  dtype_name(target.tensor->dtype()));
      e.transformed = true;
      same = true;
    }
  }
  if (same) {
    e.status = RestoreStatus::kMatched;
  } else if (shape != target.shape) {
    e.status = RestoreStatus::kShapeMismatch;
    e.detail = "file " + dims_string(saved.shape) + (e.transposed ? " (transposed " + dims_string(shape) + ")" : "") +
               ", target " + dims_string(target.shape);
  } else {
    e.status = RestoreStatus::kDTypeMismatch;
    e.detail = dtype ? "file " + e.file_dtype + " loads as " + std::string(dtype_name(*dtype)) + ", target is " +
                           (target.dtype ? std::string(dtype_name(*target.dtype)) : target.dtype_name)
                     : "graft cannot load " + e.file_dtype;
  }
  return value;
}

}  // namespace internal

std::string_view restore_status_name(RestoreStatus status) {
  switch (status) {
    case RestoreStatus::kMatched: return "matched";
    case RestoreStatus::kMissing: return "missing";
    case RestoreStatus::kUnexpected: return "unexpected";
    case RestoreStatus::kShapeMismatch: return "shape mismatch";
    case RestoreStatus::kDTypeMismatch: return "dtype mismatch";
    case RestoreStatus::kCount: break;
  }
  GRAFT_INTERNAL_ASSERT(false, "restore_status_name: invalid RestoreStatus ", static_cast<int>(status));
}

size_t RestoreReport::count(RestoreStatus status) const {
  return static_cast<size_t>(
      std::count_if(entries.begin(), entries.end(), [&](const RestoreEntry& e) { return e.status == status; }));
}

std::string RestoreReport::to_string() const {
  std::string out = "restore from " + file + ": " + summary(*this) + "\n";
  for (const RestoreEntry& e : entries) out += "  " + entry_line(e) + "\n";
  return out;
}

RestoreReport restore_tensors(const SafetensorsFile& file, const NamedTensors& targets,
                              const RestoreOptions& options) {
  std::vector<Target> specs = targets_of(targets);
  std::vector<PendingWrite> writes;
  RestoreReport report = classify(file, specs, options, &writes);
  if (options.strict() && !report.all_matched()) {
    std::string message = file.name() + ": strict restore failed: " + summary(report) + "; nothing was restored";
    for (const RestoreEntry& e : report.entries) {
      if (e.status != RestoreStatus::kMatched) message += "\n  " + entry_line(e);
    }
    message += "\n  help: restore without strict mode to keep the initial values, or pass a key map or a "
               "transform hook for renamed or reshaped tensors";
    throw IoError(message);
  }
  for (const PendingWrite& w : writes) {
    const Tensor& target = *specs[w.target].tensor;
    target.copy_from(w.value ? *w.value : load_entry(file, report.entries[w.entry]));
  }
  return report;
}

RestoreReport diff_safetensors(const SafetensorsFile& file, const std::vector<NamedShape>& targets,
                               const RestoreOptions& options) {
  std::vector<Target> specs;
  for (const NamedShape& t : targets) {
    specs.push_back({t.name, t.shape, t.dtype, std::string(file_dtype_name(to_file_dtype(t.dtype))), nullptr});
  }
  return classify(file, specs, options, nullptr);
}

RestoreReport diff_safetensors(const SafetensorsFile& file, const SafetensorsFile& other,
                               const RestoreOptions& options) {
  std::vector<Target> specs;
  for (const TensorEntry& e : other.entries()) {
    specs.push_back({e.key, e.shape, loaded_dtype(e.dtype), std::string(file_dtype_name(e.dtype)), nullptr});
  }
  return classify(file, specs, options, nullptr);
}

std::string inspect_safetensors(const SafetensorsFile& file) {
  std::string out = file.name() + ": safetensors, " + std::to_string(file.file_size()) + " bytes (header " +
                    std::to_string(file.header_size()) + " bytes), " + std::to_string(file.entries().size()) +
                    " tensors\n";
  if (!file.metadata().empty()) {
    out += "metadata:\n";
    for (const auto& [key, value] : file.metadata()) out += "  " + printable(key) + " = " + printable(value) + "\n";
  }
  size_t key_width = 3;
  size_t shape_width = 5;
  std::vector<std::string> keys;  // as printed
  keys.reserve(file.entries().size());
  for (const TensorEntry& e : file.entries()) {
    keys.push_back(printable(e.key));
    key_width = std::max(key_width, keys.back().size());
    shape_width = std::max(shape_width, e.shape_string().size());
  }
  auto pad = [](std::string s, size_t width) { return s + std::string(width > s.size() ? width - s.size() : 0, ' '); };
  out += "  " + pad("key", key_width) + "  " + pad("dtype", 7) + "  " + pad("shape", shape_width) + "  elements\n";
  uint64_t total = 0;
  for (size_t i = 0; i < file.entries().size(); ++i) {
    const TensorEntry& e = file.entries()[i];
    total += static_cast<uint64_t>(e.numel());
    out += "  " + pad(keys[i], key_width) + "  " + pad(std::string(file_dtype_name(e.dtype)), 7) + "  " +
           pad(e.shape_string(), shape_width) + "  " + std::to_string(e.numel()) + "\n";
  }
  uint64_t data = file.file_size() - 8 - file.header_size();
  out += "total: " + std::to_string(total) + " elements, " + std::to_string(data) + " bytes of data\n";
  return out;
}

}  // namespace graft::io
