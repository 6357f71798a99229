// graft/edit/edit.h: architecture edits that preserve what a network
// computes, as transactions over the model and its optimizer state.
//
//   auto opts = EditOptions()
//                   .probe(x_batch)      // f_new(probe) must equal f_old(probe)
//                   .optimizer(&adam);   // slots follow the edit
//   EditReport r = widen(model, 0, 256, opts);   // Net2WiderNet
//   r = deepen(model, 0, opts);                   // Net2DeeperNet
//   r = prune(model, 0, 64, opts);                // keep the strongest units
//
// Positions are indices into the Sequential. A widened or pruned layer is a
// Linear or a Conv2d; the next Linear or Conv2d after it (past layers without
// variables, such as ReLU, Dropout, pooling or Flatten) takes the matching
// change on its input side, and a BatchNorm in between takes it on its
// channels (gamma, beta and the running statistics). Through Flatten each
// channel spans H x W consecutive inputs of the next Linear.
//
// widen: new units are made as EditOptions::init says.
//   UnitInit::kDuplicate (Net2WiderNet): units j >= old width copy a random
//   existing unit g(j) (seeded); incoming weights, bias and batch-norm
//   channel are copied, outgoing weights of every copy of unit u are divided
//   by the number of copies, so the next layer sees the same sum. Optional
//   noise breaks the symmetry (then not exact; Linear only).
//   UnitInit::kZeroFanout (as GradMax and NORTH start): new units' incoming
//   weights are random (He uniform, seeded), their bias zero, their
//   batch-norm channel the identity, and their outgoing weights zero: exact
//   without symmetric copies.
//   Both are exact in evaluation mode (batch norm uses its running
//   statistics); kDuplicate is exact in training mode too.
// deepen: after a Linear, inserts a Linear with an identity kernel and zero
//   bias, with the layer's activation: exact when that activation is relu
//   or none (relu(x) = x for the relu outputs it receives). After a Conv2d,
//   inserts, at the end of its block (past a BatchNorm and a ReLU that
//   follow it), a 3x3 Conv2d with centre tap 1 (identity, no bias), a
//   BatchNorm that passes its input through in evaluation mode, and a ReLU
//   when the block ends with one: exact in evaluation mode.
// prune: keeps the `units` units (channels) whose outgoing weights have the
//   largest L2 norm; not function-preserving, so it is not verified.
//
// Optimizer slots move with the weights: the untouched units' moments are
// carried over exactly; a copied unit takes its source's slots, and the next
// layer's rows scale as its weights do (a second moment, Adam's v, by the
// square). Compiled functions
// recapture on their own (the store's epoch moves). When verification fails
// (max |f_new - f_old| > tolerance) the edit is rolled back (weights, shapes
// and slots restored) and ValueError is thrown with the difference found.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graft/nn/sequential.h"
#include "graft/optim/optimizer.h"

namespace graft::edit {

// How widen makes new units (header comment).
enum class UnitInit { kDuplicate, kZeroFanout };

// "duplicate" or "zero_fanout".
const char* unit_init_name(UnitInit init);

// How an edit runs: verification, optimizer slots, new units.
class EditOptions {
 public:
  // A batch to verify the edit on (the model's output before and after must
  // agree within tolerance()); undefined (the default): no check.
  EditOptions& probe(Tensor batch) { probe_ = std::move(batch); return *this; }
  // The largest |f_new - f_old| allowed on the probe.
  EditOptions& tolerance(double t) { tolerance_ = t; return *this; }
  // The optimizer whose slots move with the weights; none (nullptr): no slots.
  // Not owned; it must outlive the edit call.
  EditOptions& optimizer(optim::Optimizer* o) { optimizer_ = o; return *this; }
  // widen: stddev of the noise added to the copies' incoming weights.
  EditOptions& noise(double stddev) { noise_ = stddev; return *this; }
  // widen: which units are copied, and new incoming weights.
  EditOptions& seed(uint64_t s) { seed_ = s; return *this; }
  // widen: how new units start.
  EditOptions& init(UnitInit i) { init_ = i; return *this; }

  // The values set above, or their defaults.
  const Tensor& probe() const { return probe_; }
  double tolerance() const { return tolerance_; }
  optim::Optimizer* optimizer() const { return optimizer_; }
  double noise() const { return noise_; }
  uint64_t seed() const { return seed_; }
  UnitInit init() const { return init_; }

 private:
  Tensor probe_;
  double tolerance_ = 1e-5;
  optim::Optimizer* optimizer_ = nullptr;
  double noise_ = 0.0;
  uint64_t seed_ = 0;
  UnitInit init_ = UnitInit::kDuplicate;
};

// What an edit did.
struct EditReport {
  std::string description;           // "widen of 'mlp/layer_0' to 512 units"
  int64_t parameters_before = 0;     // the model's parameter count before
  int64_t parameters_after = 0;      // and after the edit
  std::vector<std::string> created;  // paths of the variables made
  std::vector<std::string> retired;  // paths of the variables retired
  double max_difference = 0.0;       // |f_new - f_old| on the probe
  bool verified = false;             // checked on a probe and within tolerance
};

// widen: the layer at `index` (a Linear or Conv2d) to `units` units, more
// than it has. deepen: an identity layer after the one at `index`. prune:
// the layer at `index` down to `units` units (1 <= units < its width). Each
// is a transaction (header comment): when it fails the model and the
// optimizer's slots are as before. ValueError for a position out of range or
// not a built Linear or Conv2d, a unit count that does not widen or prune,
// or a failed probe check.
EditReport widen(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options = {});
EditReport deepen(nn::Sequential& model, size_t index, const EditOptions& options = {});
EditReport prune(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options = {});

// Positions of the Linear layers in `model`, in order.
std::vector<size_t> linear_positions(const nn::Sequential& model);
// Positions of the Conv2d layers in `model`, in order.
std::vector<size_t> conv_positions(const nn::Sequential& model);

}  // namespace graft::edit
