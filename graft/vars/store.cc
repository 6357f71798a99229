#include "graft/vars/store.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "graft/base/warning.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"
#include "graft/vars/internal/variable_impl.h"

namespace graft {
namespace {

using vars::internal::VariableImpl;

std::atomic<uint64_t> g_next_variable_id{1};

thread_local std::vector<Scope> t_scopes;
thread_local vars::internal::CreateObserver* t_create_observer = nullptr;

std::string location_text(const std::source_location& loc) { return base::internal::format_location(loc); }

const char* reuse_name(Reuse reuse) {
  switch (reuse) {
    case Reuse::kCreate: return "Reuse::kCreate";
    case Reuse::kReuse: return "Reuse::kReuse";
    case Reuse::kAutoReuse: return "Reuse::kAutoReuse";
  }
  GRAFT_INTERNAL_ASSERT(false, "invalid Reuse value ", static_cast<int>(reuse));
}

std::string audit_message(const vars::internal::SiteStats& stats) {
  return base::internal::str(
      "variable '", stats.name, "' is created again at ", stats.site, " each time that code runs, and the previous one "
      "is dropped (", stats.recreations, " re-creations so far): training would update weights that are thrown away",
      "\n  help: create it once by path with scope.variable(\"", stats.name, "\", shape, init) (get-or-create), "
      "or keep the Variable alive between steps; a name scope alone does not reuse variables");
}

std::string join_path(const std::string& prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
}

}  // namespace

namespace {

bool is_name_char(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.') return true;
  return !first && (c == '_' || c == '-');
}

// `c` as a message shows it: 'a', ' ' (a space), '\x07'.
std::string quoted_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u == ' ') return "' ' (a space)";
  if (u > 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char kHex[] = "0123456789abcdef";
  return std::string("'\\x") + kHex[u >> 4] + kHex[u & 15] + "'";
}

// `text` with unprintable bytes written as \xNN, so a message never carries
// control characters to a terminal.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      std::string q = quoted_char(c);
      out += q.substr(1, q.size() - 2);
    }
  }
  return out;
}

constexpr const char* kNameGrammar =
    "a path component is letters, digits, '_', '.' and '-', starting with a letter, digit or '.', and is not "
    "'.' or '..' ([A-Za-z0-9.][A-Za-z0-9_.-]*)";

}  // namespace

void check_variable_name(std::string_view name, std::string_view what) {
  GRAFT_CHECK(!name.empty(), what, ": a name must not be empty; ", kNameGrammar,
              "\n  help: use a name such as 'kernel' or 'layer_1'");
  GRAFT_CHECK(name.find('/') == std::string_view::npos, what, ": name '", printable(name), "' contains '/' at position ",
              name.find('/'), "\n  help: a name is one path component; nest scopes with child() instead");
  GRAFT_CHECK(name != "." && name != "..", what, ": name '", name, "' is not allowed; ", kNameGrammar,
              "\n  help: use a name such as 'kernel' or 'layer_1'");
  for (size_t i = 0; i < name.size(); ++i) {
    GRAFT_CHECK(is_name_char(name[i], i == 0), what, ": name '", printable(name), "' has ", quoted_char(name[i]),
                " at position ", i, i == 0 ? " (its first character)" : "", "; ", kNameGrammar,
                "\n  help: replace that character, for example with '_'");
  }
}

void check_variable_path(std::string_view path, std::string_view what) {
  GRAFT_CHECK(!path.empty(), what, ": a path must not be empty\n  help: a path is components joined by '/', "
              "such as 'mlp/layer_0'");
  size_t start = 0;
  for (int component = 1;; ++component) {
    const size_t slash = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, slash - start);
    GRAFT_CHECK(!part.empty(), what, ": path '", printable(path), "' has an empty component (number ", component,
                ", at position ", start, ")\n  help: a path is components joined by single '/', with none at either "
                "end, such as 'mlp/layer_0'");
    try {
      check_variable_name(part, what);
    } catch (Error& e) {
      e.add_context(base::internal::str("in component ", component, " of path '", printable(path), "'"));
      throw;
    }
    if (slash == path.size()) return;
    start = slash + 1;
  }
}

// --- VariableStore ---------------------------------------------------------

VariableStore::VariableStore(std::string name, uint64_t seed) : state_(std::make_shared<State>()) {
  if (!name.empty()) check_variable_name(name, "VariableStore");
  state_->name = std::move(name);
  state_->seed = seed;
  state_->owner = this;
}

VariableStore::~VariableStore() {
  std::vector<std::shared_ptr<VariableImpl>> held;
  // Listeners and attachments belong to this store, not to watches that
  // outlive it; they die with `held`, outside the lock.
  decltype(state_->listeners) listeners;
  decltype(state_->attachments) attachments;
  {
    std::lock_guard lock(state_->mutex);
    listeners = std::move(state_->listeners);
    attachments = std::move(state_->attachments);
    for (auto& [id, entry] : state_->by_id) {
      std::shared_ptr<VariableImpl> impl = entry.strong ? entry.strong : entry.weak.lock();
      if (impl == nullptr) continue;
      impl->retirement = "retired because its VariableStore '" + state_->name + "' was destroyed";
      held.push_back(std::move(impl));
    }
    state_->by_id.clear();
    state_->by_path.clear();
    state_->owner = nullptr;
    ++state_->epoch;
  }
  // `held` dies here, outside the lock.
}

const std::string& VariableStore::name() const { return state_->name; }

StoreWatch VariableStore::watch() const {
  StoreWatch w;
  w.state_ = state_;
  return w;
}

uint64_t StoreWatch::epoch() const {
  std::lock_guard lock(state_->mutex);
  return state_->epoch;
}

bool StoreWatch::alive() const {
  std::lock_guard lock(state_->mutex);
  return state_->owner != nullptr;
}

const std::string& StoreWatch::name() const { return state_->name; }
uint64_t VariableStore::seed() const { return state_->seed; }
Scope VariableStore::root() { return Scope(*this, state_->name, Reuse::kAutoReuse, Scope::Checked{}); }

std::vector<Variable> VariableStore::variables() const {
  std::vector<Variable> out;
  std::lock_guard lock(state_->mutex);
  out.reserve(state_->by_id.size());
  for (auto& [id, entry] : state_->by_id) {
    std::shared_ptr<VariableImpl> impl = entry.strong ? entry.strong : entry.weak.lock();
    if (impl != nullptr) out.push_back(Variable(std::move(impl)));
  }
  return out;
}

std::vector<Variable> VariableStore::trainable_variables() const {
  std::vector<Variable> all = variables();
  std::vector<Variable> out;
  for (Variable& v : all) {
    if (v.trainable()) out.push_back(std::move(v));
  }
  return out;
}

std::optional<Variable> VariableStore::find(std::string_view path) const {
  std::shared_ptr<VariableImpl> impl;
  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->by_path.find(std::string(path));
    if (it == state_->by_path.end()) return std::nullopt;
    const State::Entry& entry = state_->by_id.at(it->second);
    impl = entry.strong ? entry.strong : entry.weak.lock();
  }
  if (impl == nullptr) return std::nullopt;
  return Variable(std::move(impl));
}

size_t VariableStore::size() const { return variables().size(); }

uint64_t VariableStore::epoch() const {
  std::lock_guard lock(state_->mutex);
  return state_->epoch;
}

void VariableStore::retire(const Variable& v, std::string_view reason, std::source_location location) {
  VariableImpl& impl = v.checked();
  std::shared_ptr<VariableImpl> keep_alive;
  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->by_id.find(impl.id);
    GRAFT_CHECK(impl.retirement.empty(), "cannot retire variable '", impl.path, "': it was already ", impl.retirement);
    GRAFT_CHECK(it != state_->by_id.end(), "cannot retire variable '", impl.path, "': it does not belong to store '",
                state_->name, "'");
    keep_alive = std::move(it->second.strong);
    state_->by_path.erase(it->second.path);
    state_->by_id.erase(it);
    ++state_->epoch;
    impl.retirement = base::internal::str("retired by ", reason, " at ", location_text(location), " (store '", state_->name,
                                    "' epoch ", state_->epoch, ")");
  }
}

void VariableStore::touch() {
  std::lock_guard lock(state_->mutex);
  ++state_->epoch;
}

VariableStore::ListenerId VariableStore::add_create_listener(CreateListener listener) {
  GRAFT_CHECK(listener != nullptr, "add_create_listener: the listener is an empty function");
  std::lock_guard lock(state_->mutex);
  const uint64_t id = state_->next_listener++;
  state_->listeners.emplace_back(id, std::move(listener));
  return {id};
}

bool VariableStore::remove_create_listener(ListenerId id) {
  CreateListener removed;  // destroyed outside the lock: it may hold anything
  std::lock_guard lock(state_->mutex);
  auto it = std::find_if(state_->listeners.begin(), state_->listeners.end(),
                         [&](const auto& entry) { return entry.first == id.value; });
  if (it == state_->listeners.end()) return false;
  removed = std::move(it->second);
  state_->listeners.erase(it);
  return true;
}

std::vector<VariableStore::CreateListener> VariableStoreState::listeners_copy() const {
  std::vector<VariableStore::CreateListener> out;
  out.reserve(listeners.size());
  for (const auto& [id, listener] : listeners) out.push_back(listener);
  return out;
}

std::shared_ptr<void> VariableStore::attachment_of(const std::type_info& type,
                                                   const std::function<std::shared_ptr<void>()>& make) {
  std::lock_guard lock(state_->mutex);
  std::shared_ptr<void>& slot = state_->attachments[std::type_index(type)];
  if (slot == nullptr) slot = make();
  return slot;
}

std::shared_ptr<void> VariableStore::find_attachment_of(const std::type_info& type) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->attachments.find(std::type_index(type));
  return it == state_->attachments.end() ? nullptr : it->second;
}

void VariableStore::detach_of(const std::type_info& type) {
  std::shared_ptr<void> removed;  // destroyed outside the lock
  std::lock_guard lock(state_->mutex);
  auto it = state_->attachments.find(std::type_index(type));
  if (it == state_->attachments.end()) return;
  removed = std::move(it->second);
  state_->attachments.erase(it);
}

void VariableStore::set_audit_options(const AuditOptions& options) {
  std::lock_guard lock(state_->mutex);
  state_->audit = options;
}

std::vector<AuditReport> VariableStore::audit_reports() const {
  std::lock_guard lock(state_->mutex);
  std::vector<AuditReport> out;
  for (const std::string& key : state_->reported_sites) {
    const vars::internal::SiteStats& stats = state_->sites.at(key);
    out.push_back({stats.site, stats.name, stats.recreations, audit_message(stats)});
  }
  return out;
}

VariableStore& VariableStore::default_store() {
  // Leaked on purpose: unkeyed variables may die after static destructors ran.
  static VariableStore* store = new VariableStore("");
  return *store;
}

void VariableStoreState::on_unkeyed_dropped(uint64_t id, const std::string& site_key) {
  std::lock_guard lock(mutex);
  auto it = by_id.find(id);
  if (it != by_id.end()) {
    by_path.erase(it->second.path);
    by_id.erase(it);
    ++epoch;
  }
  auto site = sites.find(site_key);
  if (site != sites.end() && site->second.last_id == id) site->second.last_alive = false;
}

// --- Scope -----------------------------------------------------------------

Scope::Scope(VariableStore& store, std::string path, Reuse reuse) : store_(&store), path_(std::move(path)), reuse_(reuse) {
  const std::string& root = store.name();
  if (path_.empty() && root.empty()) return;  // the root of an unnamed store
  check_variable_path(path_, "Scope");
  GRAFT_CHECK(root.empty() || path_ == root || (path_.size() > root.size() && path_.compare(0, root.size(), root) == 0 &&
                                                 path_[root.size()] == '/'),
              "Scope: path '", path_, "' is outside store '", root, "' (every path in it starts with '", root,
              "/')\n  help: start from store.root() and nest with child(), or use the store the path belongs to");
}

Scope::Scope(VariableStore& store, std::string path, Reuse reuse, Checked)
    : store_(&store), path_(std::move(path)), reuse_(reuse) {}

Scope Scope::child(std::string_view name) const { return child(name, reuse_); }

Scope Scope::child(std::string_view name, Reuse reuse) const {
  check_variable_name(name, "Scope::child");
  return Scope(*store_, join_path(path_, name), reuse, Checked{});
}

std::string Scope::path_of(std::string_view name) const { return join_path(path_, name); }

Variable Scope::variable(std::string_view name, const Shape& shape, const Initializer& init,
                         const VariableOptions& options, std::source_location location) const {
  check_variable_name(name, "Scope::variable");
  const DType dtype = options.dtype().value_or(DType::kFloat32);
  VariableStore::State& state = *store_->state_;
  const std::string path = path_of(name);
  std::shared_ptr<VariableImpl> impl;
  bool created = false;
  std::vector<VariableStore::CreateListener> listeners;  // copied under the lock, called outside it
  {
    std::lock_guard lock(state.mutex);
    auto found = state.by_path.find(path);
    if (found != state.by_path.end()) {
      const VariableStore::State::Entry& entry = state.by_id.at(found->second);
      impl = entry.strong ? entry.strong : entry.weak.lock();
    }
    if (impl != nullptr) {
      const std::string sites = "\n  created at:   " + location_text(impl->created_at) +
                                "\n  requested at: " + location_text(location);
      GRAFT_CHECK(reuse_ != Reuse::kCreate, "variable '", path, "' already exists (scope '", path_, "' is in ",
                  reuse_name(reuse_), ")", sites,
                  "\n  help: use another name, or Reuse::kAutoReuse to get the existing variable");
      GRAFT_CHECK_AS(ShapeError, impl->value.shape() == shape, "variable '", path, "' exists with shape ",
                     impl->value.shape().to_string(), ", requested ", shape.to_string(), sites,
                     "\n  help: use another name, or retire the old layer before creating the new one");
      GRAFT_CHECK_AS(DTypeError, impl->value.dtype() == dtype, "variable '", path, "' exists with dtype ",
                     dtype_name(impl->value.dtype()), ", requested ", dtype_name(dtype), sites,
                     "\n  help: use another name, or request the existing dtype");
    } else {
      GRAFT_CHECK_AS(NotFoundError, reuse_ != Reuse::kReuse, "variable '", path, "' does not exist (scope '", path_,
                     "' is in Reuse::kReuse)\n  requested at: ", location_text(location),
                     "\n  help: create it first, or use Reuse::kAutoReuse to get-or-create");
      auto fresh = std::make_shared<VariableImpl>();
      fresh->value = Tensor::empty(shape, dtype);
      init(fresh->value, derive_seed(state.seed, hash_string(path.c_str())));
      fresh->id = g_next_variable_id.fetch_add(1);
      fresh->path = path;
      fresh->trainable = options.trainable();
      fresh->keyed = true;
      fresh->created_at = location;
      fresh->store = store_;
      fresh->store_state = store_->state_;
      state.by_id[fresh->id] = {fresh, fresh, path};
      state.by_path[path] = fresh->id;
      ++state.epoch;
      impl = std::move(fresh);
      created = true;
      listeners = state.listeners_copy();
    }
  }
  Variable v(std::move(impl));
  if (created) {
    if (t_create_observer != nullptr) t_create_observer->on_create(v, /*keyed=*/true, name, location);
    for (const auto& listener : listeners) listener(v);
  }
  return v;
}

// --- Unkeyed creation and the audit ------------------------------------------

Variable::Variable(const Tensor& initial_value, std::string_view name, const VariableOptions& options,
                   std::source_location location) {
  check_variable_name(name, "Variable");
  GRAFT_CHECK(initial_value.defined(), "Variable '", name, "': the initial value is an undefined tensor");
  GRAFT_CHECK(!initial_value.is_symbolic(), "Variable '", name, "' created at ", location_text(location),
              " inside a graft::function capture from a computed value\n"
              "  help: create variables by path with scope.variable(name, shape, init), which runs once");
  Scope scope = current_scope();
  VariableStore& store = scope.store();
  VariableStore::State& state = *store.state_;
  const std::string site = location_text(location);
  const std::string site_key = site + "|" + std::string(name);
  // Converted before the lock: cast() is an op, seen by tapes and observers.
  // It makes a new tensor, so only an unconverted value needs a copy.
  const bool convert = options.dtype().has_value() && *options.dtype() != initial_value.dtype();
  Tensor value = convert ? cast(initial_value, *options.dtype()) : initial_value.clone();
  auto fresh = std::make_shared<VariableImpl>();
  std::vector<VariableStore::CreateListener> listeners;
  std::string warning;  // sent outside the lock: a handler may call back into the store
  {
    std::lock_guard lock(state.mutex);
    auto& stats = state.sites[site_key];
    stats.site = site;
    stats.name = std::string(name);
    if (stats.last_id != 0 && !stats.last_alive) ++stats.recreations;
    if (stats.recreations >= state.audit.threshold() && !stats.reported) {
      GRAFT_CHECK(!state.audit.strict(), audit_message(stats));
      stats.reported = true;
      state.reported_sites.push_back(site_key);
      if (state.audit.print_warnings()) warning = audit_message(stats);
    }
    fresh->id = g_next_variable_id.fetch_add(1);
    stats.last_id = fresh->id;
    stats.last_alive = true;

    // A taken name is made unique: weights, weights_1, weights_2, ...
    std::string path = scope.path_of(name);
    for (int suffix = 1; state.by_path.count(path) > 0; ++suffix) {
      path = scope.path_of(std::string(name) + "_" + std::to_string(suffix));
    }
    fresh->value = std::move(value);
    fresh->path = path;
    fresh->trainable = options.trainable();
    fresh->keyed = false;
    fresh->created_at = location;
    fresh->site_key = site_key;
    fresh->store = &store;
    fresh->store_state = store.state_;
    state.by_id[fresh->id] = {nullptr, fresh, path};
    state.by_path[path] = fresh->id;
    ++state.epoch;
    listeners = state.listeners_copy();
  }
  impl_ = std::move(fresh);
  if (!warning.empty()) warn(std::move(warning));
  if (t_create_observer != nullptr) t_create_observer->on_create(*this, /*keyed=*/false, name, location);
  for (const auto& listener : listeners) listener(*this);
}

// --- Thread-local scopes ---------------------------------------------------

VariableScope::VariableScope(std::string_view name) { t_scopes.push_back(current_scope().child(name)); }
VariableScope::VariableScope(std::string_view name, Reuse reuse) {
  t_scopes.push_back(current_scope().child(name, reuse));
}
VariableScope::VariableScope(const Scope& scope) { t_scopes.push_back(scope); }
VariableScope::~VariableScope() { t_scopes.pop_back(); }
const Scope& VariableScope::scope() const { return t_scopes.back(); }

Scope current_scope() {
  if (!t_scopes.empty()) return t_scopes.back();
  return VariableStore::default_store().root();
}

Variable get_variable(std::string_view name, const Shape& shape, const Initializer& init,
                      const VariableOptions& options, std::source_location location) {
  return current_scope().variable(name, shape, init, options, location);
}

namespace vars::internal {
CreateObserver* set_create_observer(CreateObserver* observer) { return std::exchange(t_create_observer, observer); }
}  // namespace vars::internal

}  // namespace graft
