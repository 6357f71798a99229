#include "graft/trace/function.h"

#include <algorithm>

#include "graft/base/warning.h"
#include "graft/trace/internal/capture.h"

namespace graft::trace::internal {
namespace {

std::string signature_text(const std::vector<TensorMeta>& signature) {
  std::string out = "(";
  for (size_t i = 0; i < signature.size(); ++i) out += (i ? ", " : "") + meta_text(signature[i]);
  return out + ")";
}

std::vector<TensorMeta> signature_of(const std::vector<Tensor>& args) {
  std::vector<TensorMeta> signature;
  signature.reserve(args.size());
  for (const Tensor& t : args) signature.push_back({t.shape(), t.dtype()});
  return signature;
}

bool same_signature(const std::vector<TensorMeta>& a, const std::vector<Tensor>& args) {
  if (a.size() != args.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!args[i].defined() || a[i].dtype != args[i].dtype() || !(a[i].shape == args[i].shape())) return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& items, size_t limit = 4) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > limit) out += graft::base::internal::str(" and ", items.size() - limit, " more");
  return out;
}

}  // namespace

// Type and value, each as its length and its bytes: no separator inside a
// string can make two argument lists read alike.
void append_static(StaticKey& key, std::string_view type, std::string_view value, std::string_view text) {
  for (std::string_view part : {type, value}) {
    key.bytes += std::to_string(part.size());
    key.bytes += ':';
    key.bytes += part;
  }
  if (!key.text.empty()) key.text += ", ";
  key.text += text;
}

std::string quoted(std::string_view s, char quote) {
  std::string out(1, quote);
  for (char c : s) {
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + quote;
}

struct FunctionCore::Entry {
  std::vector<TensorMeta> signature;
  StaticKey statics;
  std::vector<StoreWatch> stores;
  std::vector<uint64_t> epochs;
  std::vector<Capture::VariableRead> reads;
  std::vector<Capture::ModeRead> modes;
  std::unique_ptr<trace::Executor> executor;
  uint64_t last_used = 0;

  // Every mode flag the graph depends on holds the value it was captured
  // with (a dead flag's module is gone: never again).
  bool same_modes() const {
    for (const Capture::ModeRead& m : modes) {
      auto flag = m.flag.lock();
      if (flag == nullptr || flag->value != m.value) return false;
    }
    return true;
  }
  bool current() const {
    for (size_t i = 0; i < stores.size(); ++i) {
      if (stores[i].epoch() != epochs[i]) return false;
    }
    return same_modes();
  }
  // "cnn/bn: eval, cnn/dropout: training".
  std::string modes_text() const {
    std::string out;
    for (const Capture::ModeRead& m : modes) out += (out.empty() ? "" : ", ") + m.owner + (m.value ? ": training" : ": eval");
    return out;
  }
};

FunctionCore::FunctionCore(FunctionOptions options) : options_(std::move(options)) {
  // Capture evicts a graph before adding one, so a cache needs room for one.
  GRAFT_CHECK(options_.max_cached_graphs() >= 1, "function '", options_.name(),
              "': max_cached_graphs must be at least 1, got ", options_.max_cached_graphs(),
              "\n  help: pass the number of graphs to keep (one per input signature and static arguments in use)");
  // 0 or a negative count warned on the first recapture, as 1 does, while
  // reading as "never".
  GRAFT_CHECK(options_.recapture_warning() >= 1, "function '", options_.name(),
              "': recapture_warning must be at least 1 (calls in a row that recapture), got ",
              options_.recapture_warning(), "\n  help: pass a large count to warn only in pathological cases");
}
FunctionCore::FunctionCore(FunctionCore&&) noexcept = default;
FunctionCore::~FunctionCore() = default;

FunctionCore::Entry* FunctionCore::find(const std::vector<Tensor>& args, const StaticKey& statics) {
  for (auto& entry : cache_) {
    if (entry->statics == statics && same_signature(entry->signature, args) && entry->current()) {
      return entry.get();
    }
  }
  return nullptr;
}

std::vector<Tensor> FunctionCore::call(const std::vector<Tensor>& args, const StaticKey& statics,
                                       const Body& body) {
  // Called while another function captures: become part of its graph.
  if (ops::internal::interceptor() != nullptr) return body(args);
  ++calls_;
  Entry* entry = find(args, statics);
  if (entry != nullptr) {
    recaptures_in_a_row_ = 0;
  } else {
    entry = &capture(args, statics, body);
  }
  entry->last_used = static_cast<uint64_t>(calls_);
  last_ = entry;
  return entry->executor->run(args);
}

FunctionCore::Entry& FunctionCore::capture(const std::vector<Tensor>& args, const StaticKey& statics,
                                           const Body& body) {
  CapturePolicy policy{options_.name(), options_.strict(), captures_ == 0, calls_, captures_ + 1};
  auto entry = std::make_unique<Entry>();
  entry->signature = signature_of(args);
  entry->statics = statics;
  Graph graph;
  std::vector<std::string> created;
  {
    Capture capture(args, policy);
    std::vector<Tensor> outputs = body(capture.symbolic_args());
    graph = capture.finish(outputs);
    entry->stores = capture.stores();
    entry->reads = capture.reads();
    entry->modes = capture.modes();
    created = capture.created();
  }
  for (const StoreWatch& store : entry->stores) entry->epochs.push_back(store.epoch());

  // Why: the first call, a new signature, a new mode, or a store that
  // changed. A graph of the same signature captured in another mode stays
  // cached: it is the one to replay when the mode switches back.
  std::vector<std::string> reasons;
  auto same_key = [&](const auto& e) { return e->statics == statics && same_signature(e->signature, args); };
  auto stale = std::find_if(cache_.begin(), cache_.end(), [&](const auto& e) { return same_key(e) && e->same_modes(); });
  const bool other_mode = std::any_of(cache_.begin(), cache_.end(), same_key);
  auto with_statics = [](const Entry& e) {
    return signature_text(e.signature) + (e.statics.text.empty() ? "" : " static (" + e.statics.text + ")");
  };
  if (captures_ == 0) {
    reasons.push_back("first call, signature " + with_statics(*entry));
  } else if (stale == cache_.end() && other_mode) {
    reasons.push_back("new mode (" + entry->modes_text() + ")");
  } else if (stale == cache_.end() && last_ != nullptr && same_signature(last_->signature, args)) {
    reasons.push_back("new static arguments (" + statics.text + ") (previous (" + last_->statics.text + "))");
  } else if (stale == cache_.end()) {
    reasons.push_back("new signature " + with_statics(*entry) +
                      (last_ != nullptr ? " (previous " + with_statics(*last_) + ")" : ""));
  } else {
    const Entry& old = **stale;
    for (size_t i = 0; i < old.stores.size(); ++i) {
      uint64_t now = old.stores[i].epoch();
      if (now != old.epochs[i]) {
        reasons.push_back(graft::base::internal::str("store '", old.stores[i].name(), "' epoch ", old.epochs[i], " -> ", now));
      }
    }
    std::vector<std::string> retired, frozen, unfrozen;
    for (const Capture::VariableRead& r : old.reads) {
      if (r.variable.is_retired()) {
        retired.push_back(r.variable.path());
      } else if (r.variable.trainable() != r.trainable) {
        (r.trainable ? frozen : unfrozen).push_back(r.variable.path());
      }
    }
    if (!retired.empty()) reasons.push_back("retired " + join(retired));
    if (!frozen.empty()) reasons.push_back("froze " + join(frozen));
    if (!unfrozen.empty()) reasons.push_back("unfroze " + join(unfrozen));
    cache_.erase(stale);
  }
  if (!created.empty()) reasons.push_back("created " + join(created));
  ++captures_;
  std::string line = graft::base::internal::str("capture ", captures_, " (call ", calls_, "): ", join(reasons, 16));
  history_.push_back(line);

  if (captures_ > 1 && ++recaptures_in_a_row_ >= options_.recapture_warning() && !warned_) {
    warned_ = true;
    warn(graft::base::internal::str(
        "function '", options_.name(), "' recaptured on ", recaptures_in_a_row_, " calls in a row; the last: ", line,
        "\n  help: every capture re-traces and re-optimises the step; keep input shapes fixed (pad or bucket "
        "sequence lengths) and grow the model less often"));
  }

  graph.name = options_.name();
  entry->executor = std::make_unique<trace::Executor>(std::move(graph), trace::ExecutorOptions().optimize(options_.optimize()));
  if (static_cast<int>(cache_.size()) >= options_.max_cached_graphs()) {
    auto oldest = std::min_element(cache_.begin(), cache_.end(),
                                   [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
    if (oldest->get() == last_) last_ = nullptr;
    cache_.erase(oldest);
  }
  cache_.push_back(std::move(entry));
  return *cache_.back();
}

std::string FunctionCore::explain() const {
  std::string out = graft::base::internal::str("function '", options_.name(), "': ", calls_, " calls, ", captures_, " captures, ",
                                  cache_.size(), " cached graphs\n");
  for (const std::string& line : history_) out += "  " + line + "\n";
  return out;
}

std::string FunctionCore::graph_text() const { return last_ ? last_->executor->graph().to_text() : ""; }
std::string FunctionCore::graph_dot() const { return last_ ? last_->executor->graph().to_dot() : ""; }
trace::ExecutorStats FunctionCore::stats() const { return last_ ? last_->executor->stats() : trace::ExecutorStats{}; }

}  // namespace graft::trace::internal
