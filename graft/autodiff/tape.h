// graft/autodiff/tape.h: reverse-mode gradients with TensorFlow 2 semantics.
//
//   GradientTape tape;  // or GradientTape tape(GradientTapeOptions().persistent(true));
//   tape.watch(x);
//   Tensor y = sum(tanh(x) * x);
//   std::vector<std::optional<Tensor>> g = tape.gradient(y, {x});
//
// A tape records the ops run on its thread while it is alive, from the moment
// one of their inputs is watched (by watch(), or because it came out of a
// recorded op). Trainable variables read under a tape are watched
// automatically (graft/vars). gradient(target, sources) returns one optional
// gradient per source, empty when the source does not reach the target. A
// non-persistent tape answers once and then frees what it held; a persistent
// one answers as often as asked. Tapes nest: an outer tape records the ops an
// inner tape's gradient() runs, so gradients of gradients work.
//
// Not thread-safe: a tape belongs to the thread that made it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "graft/ops/dispatch.h"

namespace graft {

// How a GradientTape behaves: GradientTape tape(GradientTapeOptions().persistent(true)).
class GradientTapeOptions {
 public:
  // A persistent tape answers gradient() as often as asked and keeps what it
  // recorded until it is destroyed; a non-persistent one (the default)
  // answers once and then frees it.
  GradientTapeOptions& persistent(bool on) { persistent_ = on; return *this; }
  bool persistent() const { return persistent_; }

 private:
  bool persistent_ = false;
};

// Records ops for reverse-mode gradients (header comment).
class GradientTape : private ops::internal::OpObserver {
 public:
  // Starts recording on this thread; the tape stops when destroyed.
  explicit GradientTape(const GradientTapeOptions& options = {});
  ~GradientTape() override;
  GradientTape(const GradientTape&) = delete;
  GradientTape& operator=(const GradientTape&) = delete;

  // Records ops that consume `t` from now on. Integer tensors are ignored:
  // no gradient flows through them.
  void watch(const Tensor& t);
  bool is_watched(const Tensor& t) const;

  // d(sum of target) / d(source) for each source. The target need not be a
  // scalar (its gradient seed is ones, as in TensorFlow); `output_gradient`
  // replaces that seed when given (same shape as target). Throws ValueError
  // when called twice on a non-persistent tape.
  std::vector<std::optional<Tensor>> gradient(const Tensor& target, const std::vector<Tensor>& sources,
                                              const Tensor& output_gradient = Tensor());

  // The same for any range of things convertible to Tensor (variables).
  template <typename Range>
    requires(!std::is_same_v<Range, std::vector<Tensor>>)
  std::vector<std::optional<Tensor>> gradient(const Tensor& target, const Range& sources,
                                              const Tensor& output_gradient = Tensor()) {
    std::vector<Tensor> tensors;
    for (const auto& s : sources) tensors.push_back(static_cast<Tensor>(s));
    return gradient(target, tensors, output_gradient);
  }

  // Stops or resumes recording (TensorFlow's tape.stop_recording()).
  void set_recording(bool recording) { recording_ = recording; }
  bool persistent() const { return options_.persistent(); }
  // Ops recorded so far.
  size_t size() const { return entries_.size(); }

 private:
  // Tensor id -> dense slot, open addressing with linear probing. Ids are
  // never 0, so 0 marks an empty cell. Only grows; cleared as a whole.
  class IdSlots {
   public:
    static constexpr uint32_t kNone = ~uint32_t{0};
    uint32_t find(uint64_t id) const;
    // The slot of `id`, inserting it with the next free slot when absent.
    uint32_t insert(uint64_t id);
    uint32_t size() const { return size_; }
    void clear();

   private:
    void grow();
    std::vector<uint64_t> keys_;
    std::vector<uint32_t> values_;
    uint32_t size_ = 0;
  };

  // One recorded op. Its inputs and their versions live in the tape-wide
  // inputs_ and input_versions_ arrays (no allocation per op).
  struct Entry {
    OpKind kind;
    uint32_t first_input;
    uint32_t num_inputs;
    uint32_t output_slot;
    OpAttrs attrs;
    Tensor output;
  };

  void on_op(OpKind kind, std::span<const Tensor> inputs, const OpAttrs& attrs, const Tensor& output) override;
  void release();

  GradientTapeOptions options_;
  bool recording_ = true;
  bool used_ = false;
  std::vector<Entry> entries_;
  std::vector<Tensor> inputs_;
  std::vector<uint64_t> input_versions_;
  // Tensors whose consumers are recorded: watched or produced here.
  IdSlots tracked_;
};

namespace autodiff::internal {
// Watches `t` on every tape alive on this thread (variables call this when a
// trainable variable is read).
void watch_on_active_tapes(const Tensor& t);
}  // namespace autodiff::internal

}  // namespace graft
