// graft/edit/edit.h: architecture edits that preserve what a network
// computes, as transactions over the model and its optimizer state.
//
//   EditOptions opts;
//   opts.probe = x_batch;          // f_new(probe) must equal f_old(probe)
//   opts.optimizer = &adam;        // slots follow the edit
//   EditReport r = widen(model, 0, 256, opts);   // Net2WiderNet
//   r = deepen(model, 0, opts);                   // Net2DeeperNet
//   r = prune(model, 0, 64, opts);                // keep the strongest units
//
// Positions are indices into the Sequential. A widened or pruned layer is a
// Linear; the next Linear after it (past layers without variables, such as
// ReLU or Dropout) takes the matching change on its input side.
//
// widen: units j >= old width copy a random existing unit g(j) (seeded);
//   incoming weights and bias are copied, outgoing weights of every copy of
//   unit u are divided by the number of copies, so the next layer sees the
//   same sum. Optional noise breaks the symmetry (then not exact).
// deepen: inserts a Linear with an identity kernel and zero bias after the
//   layer, with the layer's activation: exact when that activation is relu
//   or none (relu(x) = x for the relu outputs it receives).
// prune: keeps the `units` units whose outgoing weights have the largest L2
//   norm; not function-preserving, so it is not verified.
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

struct EditOptions {
  Tensor probe;                  // a batch for verification; none: no check
  double tolerance = 1e-5;       // max |f_new - f_old| allowed
  Optimizer* optimizer = nullptr;
  double noise = 0.0;            // widen: stddev of noise added to copies' incoming weights
  uint64_t seed = 0;             // widen: which units are copied
};

struct EditReport {
  std::string description;
  int64_t parameters_before = 0;
  int64_t parameters_after = 0;
  std::vector<std::string> created;  // variable paths
  std::vector<std::string> retired;
  double max_difference = 0.0;       // |f_new - f_old| on the probe
  bool verified = false;
};

EditReport widen(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options = {});
EditReport deepen(nn::Sequential& model, size_t index, const EditOptions& options = {});
EditReport prune(nn::Sequential& model, size_t index, int64_t units, const EditOptions& options = {});

// Positions of the Linear layers in `model`, in order.
std::vector<size_t> linear_positions(const nn::Sequential& model);

}  // namespace graft::edit
