// graft/trace/function.h: compiled functions that recapture when the model
// grows, instead of failing with TensorFlow's "tf.function only supports
// singleton tf.Variables created on the first call".
//
//   auto train_step = graft::function([&](const Tensor& x, const Tensor& y) {
//     GradientTape tape;
//     Tensor loss = mean(sparse_softmax_cross_entropy(model(x), y));
//     auto grads = tape.gradient(loss, model.trainable_variables());
//     ...  // assign updates
//     return loss;
//   }, FunctionOptions().name("train_step"));
//   Tensor loss = train_step(x, y);   // first call: capture, then run
//   loss = train_step(x, y);          // replay the optimised graph
//   model.add(...);                   // the store's epoch moves
//   loss = train_step(x, y);          // recapture: new variables created once
//   std::cout << train_step.explain();
//
// The first call with a given input signature (dtypes and shapes) runs the
// callable with symbolic tensors: ops are recorded, not run; variable creation
// runs for real, once (get-or-create by path), and variables enter the graph
// as inputs read by reference. The cache key is the signature plus the
// structure epoch of every variable store the capture read or created in, so
// a model that grew, shrank or froze a layer recaptures and never runs a stale
// graph. Gradients taken with a GradientTape inside the callable are captured
// too (vector-Jacobian products are graft ops), and so are Variable::assign
// calls.
//
// Inside the callable, tensors are symbolic: reading their values throws.
// A tape alive outside the function does not see inside it; take gradients
// inside. A graft::function called while another is capturing is inlined.
// Not thread-safe: call one Function from one thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "graft/trace/executor.h"
#include "graft/trace/internal/static_key.h"

namespace graft {

// How a graft::function captures and caches.
class FunctionOptions {
 public:
  // The name shown in messages, explain() and printed graphs.
  FunctionOptions& name(std::string n) { name_ = std::move(n); return *this; }
  // TensorFlow's rule: creating a variable on any capture but the first throws.
  FunctionOptions& strict(bool s) { strict_ = s; return *this; }
  // Warn once when this many calls in a row recapture.
  FunctionOptions& recapture_warning(int n) { recapture_warning_ = n; return *this; }
  // Dead code elimination, constant folding (the memory plan always runs).
  FunctionOptions& optimize(bool o) { optimize_ = o; return *this; }
  // Graphs kept per function (at least 1; a function throws ValueError when
  // made with fewer); the least recently used is dropped past this.
  FunctionOptions& max_cached_graphs(int n) { max_cached_graphs_ = n; return *this; }

  // The values set above, or their defaults ("function", off, 8, on, 32).
  const std::string& name() const { return name_; }
  bool strict() const { return strict_; }
  int recapture_warning() const { return recapture_warning_; }
  bool optimize() const { return optimize_; }
  int max_cached_graphs() const { return max_cached_graphs_; }

 private:
  std::string name_ = "function";
  bool strict_ = false;
  int recapture_warning_ = 8;
  bool optimize_ = true;
  int max_cached_graphs_ = 32;
};

namespace trace::internal {

// The untyped core: caching, capture and replay over vectors of tensors.
class FunctionCore {
 public:
  using Body = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

  explicit FunctionCore(FunctionOptions options);
  FunctionCore(FunctionCore&&) noexcept;
  ~FunctionCore();

  // `statics` holds the types and values of the static (non-tensor) arguments.
  std::vector<Tensor> call(const std::vector<Tensor>& args, const StaticKey& statics, const Body& body);

  const FunctionOptions& options() const { return options_; }
  // Why each capture happened, one line each.
  std::string explain() const;
  int captures() const { return captures_; }
  int calls() const { return calls_; }
  // The graph the last call ran, as text or Graphviz dot; empty before the
  // first call.
  std::string graph_text() const;
  std::string graph_dot() const;
  // Statistics of the last call's executor.
  trace::ExecutorStats stats() const;

 private:
  struct Entry;
  Entry* find(const std::vector<Tensor>& args, const StaticKey& statics);
  Entry& capture(const std::vector<Tensor>& args, const StaticKey& statics, const Body& body);

  FunctionOptions options_;
  std::vector<std::unique_ptr<Entry>> cache_;
  Entry* last_ = nullptr;
  std::vector<std::string> history_;
  int captures_ = 0;
  int calls_ = 0;
  int recaptures_in_a_row_ = 0;
  bool warned_ = false;
};

template <typename R>
std::vector<Tensor> to_tensors(R&& result) {
  using T = std::decay_t<R>;
  if constexpr (std::is_same_v<T, std::vector<Tensor>>) {
    return std::forward<R>(result);
  } else {
    return {Tensor(std::forward<R>(result))};
  }
}

}  // namespace trace::internal

// Arguments convertible to Tensor are traced; others (int, double, bool, an
// enum, std::string: a layer count, a training flag) are static: their types
// and exact values join the cache key (trace/internal/static_key.h), so a new
// value recaptures, as TensorFlow does for Python arguments. A static argument
// of any other type is a compile-time error.
template <typename T>
inline constexpr bool kIsTensorArgument = std::is_convertible_v<const T&, Tensor>;

// A compiled callable. F takes tensors (or things convertible to Tensor) and
// static values, and returns a Tensor, a std::vector<Tensor>, or nothing.
template <typename F>
class Function {
 public:
  // Compiles `f` lazily: nothing is captured before the first call. Throws
  // ValueError for max_cached_graphs below 1.
  Function(F f, FunctionOptions options) : f_(std::move(f)), core_(std::move(options)) {}

  // Runs f on `args`: replays the graph cached for their signature and the
  // stores' epochs, or captures one first (header comment). Returns what f
  // returns.
  template <typename... Args>
  auto operator()(const Args&... args) {
    using R = std::invoke_result_t<F&, const std::conditional_t<kIsTensorArgument<Args>, Tensor, Args>&...>;
    std::vector<Tensor> inputs;
    trace::internal::StaticKey statics_key;
    (collect(args, inputs, statics_key), ...);
    auto statics = std::forward_as_tuple(args...);
    auto body = [&](const std::vector<Tensor>& in) -> std::vector<Tensor> {
      return invoke_with<Args...>(in, statics, std::index_sequence_for<Args...>{});
    };
    std::vector<Tensor> out = core_.call(inputs, statics_key, body);
    if constexpr (std::is_void_v<R>) {
      return;
    } else if constexpr (std::is_same_v<std::decay_t<R>, std::vector<Tensor>>) {
      return out;
    } else {
      return out.at(0);
    }
  }

  // Why each capture happened, one line each.
  std::string explain() const { return core_.explain(); }
  // Captures and calls so far.
  int captures() const { return core_.captures(); }
  int calls() const { return core_.calls(); }
  // The graph the last call ran, as text or Graphviz dot; empty before the
  // first call.
  std::string graph_text() const { return core_.graph_text(); }
  std::string graph_dot() const { return core_.graph_dot(); }
  // Statistics of the last call's executor.
  trace::ExecutorStats stats() const { return core_.stats(); }

 private:
  template <typename A>
  static void collect(const A& arg, std::vector<Tensor>& inputs, trace::internal::StaticKey& statics) {
    if constexpr (kIsTensorArgument<A>) {
      inputs.push_back(Tensor(arg));
    } else {
      trace::internal::add_static_argument(statics, arg);
    }
  }

  // Position of argument I among the traced (tensor) arguments.
  template <size_t I, typename... Args>
  static constexpr size_t tensor_position() {
    constexpr bool is_tensor[] = {kIsTensorArgument<Args>..., false};
    size_t n = 0;
    for (size_t i = 0; i < I; ++i) n += is_tensor[i] ? 1 : 0;
    return n;
  }

  template <typename... Args, typename Tuple, size_t... I>
  std::vector<Tensor> invoke_with(const std::vector<Tensor>& in, const Tuple& statics, std::index_sequence<I...>) {
    auto pick = [&]<size_t J>(std::integral_constant<size_t, J>) -> decltype(auto) {
      using A = std::tuple_element_t<J, std::tuple<Args...>>;
      if constexpr (kIsTensorArgument<A>) {
        return static_cast<const Tensor&>(in[tensor_position<J, Args...>()]);
      } else {
        return static_cast<const A&>(std::get<J>(statics));
      }
    };
    using R = std::invoke_result_t<F&, decltype(pick(std::integral_constant<size_t, I>{}))...>;
    if constexpr (std::is_void_v<R>) {
      f_(pick(std::integral_constant<size_t, I>{})...);
      return {};
    } else {
      return trace::internal::to_tensors(f_(pick(std::integral_constant<size_t, I>{})...));
    }
  }

  F f_;
  trace::internal::FunctionCore core_;
};

// The compiled form of `f` (header comment): graft::function(f), as
// tf.function(f).
template <typename F>
Function<F> function(F f, FunctionOptions options = {}) {
  return Function<F>(std::move(f), std::move(options));
}

}  // namespace graft
