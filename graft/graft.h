// graft/graft.h: the whole public API in one include, for programs that use
// graft (library code includes the headers it needs, never this one).
//
//   #include <graft/graft.h>
//
//   graft::nn::Sequential model("mlp");
//   model.add(graft::nn::Linear(graft::nn::LinearOptions(10)));
//   graft::optim::Adam adam(graft::optim::AdamOptions(1e-3));
//   auto step = graft::function([&](const graft::Tensor& x, const graft::Tensor& y) {
//     graft::GradientTape tape;
//     graft::Tensor loss = graft::mean(graft::sparse_softmax_cross_entropy(model(x), y));
//     auto vars = model.trainable_variables();
//     adam.apply_gradients(vars, tape.gradient(loss, vars));
//     return loss;
//   });
//
// Link graft::graft (CMake: find_package(graft CONFIG)) or `pkg-config --libs graft`.
#pragma once

#include "graft/version.h"

#include "graft/base/check.h"
#include "graft/base/error.h"
#include "graft/base/warning.h"

#include "graft/tensor/dtype.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/random.h"
#include "graft/tensor/shape.h"
#include "graft/tensor/tensor.h"

#include "graft/ops/ops.h"

#include "graft/autodiff/gradcheck.h"
#include "graft/autodiff/tape.h"

#include "graft/vars/initializers.h"
#include "graft/vars/store.h"
#include "graft/vars/variable.h"

#include "graft/nn/batch_norm.h"
#include "graft/nn/conv.h"
#include "graft/nn/layers.h"
#include "graft/nn/lstm.h"
#include "graft/nn/module.h"
#include "graft/nn/sequential.h"

#include "graft/trace/function.h"

#include "graft/optim/adam.h"
#include "graft/optim/optimizer.h"
#include "graft/optim/schedule.h"
#include "graft/optim/sgd.h"

#include "graft/edit/edit.h"

#include "graft/io/augment.h"
#include "graft/io/batches.h"
#include "graft/io/checkpoint.h"
#include "graft/io/fashion_mnist.h"
#include "graft/io/image_bytes.h"
#include "graft/io/restore.h"
#include "graft/io/safetensors.h"

#if GRAFT_HAS_DIST
#include "graft/dist/comm.h"
#include "graft/dist/reducer.h"
#include "graft/dist/structure.h"
#include "graft/dist/sync.h"
#endif
