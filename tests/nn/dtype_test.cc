// A layer built for one dtype, given another: the error names the layer.
#include <gtest/gtest.h>

#include "graft/nn/layers.h"
#include "graft/nn/lstm.h"
#include "graft/nn/sequential.h"
#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft::nn {
namespace {

using test_util::error_text;

TEST(LayerDTypeTest, AFloat64InputToAFloat32LinearNamesTheLayerAndBothDTypes) {
  Sequential model("mlp");
  model.add(Linear(LinearOptions(3)));
  model(ones({2, 4}));  // builds float32
  std::string what = error_text<DTypeError>([&] { model(ones({2, 4}, DType::kFloat64)); });
  GRAFT_EXPECT_CONTAINS(what, "Linear 'mlp/layer_0' was built for float32 inputs");
  GRAFT_EXPECT_CONTAINS(what, "received a float64 input");
  GRAFT_EXPECT_CONTAINS(what, "help: cast the input first (cast(x, DType::kFloat32))");
}

TEST(LayerDTypeTest, AFloat64InputToAFloat32LSTMNamesTheCell) {
  Sequential model("rnn");
  model.add(LSTM(LSTMOptions(5)));
  model(ones({2, 3, 4}));  // builds float32
  std::string what = error_text<DTypeError>([&] { model(ones({2, 3, 4}, DType::kFloat64)); });
  GRAFT_EXPECT_CONTAINS(what, "LSTMCell 'rnn/layer_0/cell' was built for float32 inputs");
  GRAFT_EXPECT_CONTAINS(what, "received a float64 input");
  // A state of the wrong dtype is named as such.
  LSTMCell cell(LSTMCellOptions(5));
  cell(ones({2, 4}, DType::kFloat64));  // builds float64
  what = error_text<DTypeError>([&] { cell.step(ones({2, 4}, DType::kFloat64), cell.zero_state(2)); });
  GRAFT_EXPECT_CONTAINS(what, "LSTMCell 'lstm_cell' was built for float64 inputs");
  GRAFT_EXPECT_CONTAINS(what, "received a float32 state h");
}

TEST(LayerDTypeTest, AnInvalidActivationIsAnErrorNotIdentity) {
  Linear layer(LinearOptions(2).activation(static_cast<Activation>(42)));
  std::string what = error_text<ValueError>([&] { layer(ones({1, 2})); });
  GRAFT_EXPECT_CONTAINS(what, "invalid nn::Activation value 42");
}

}  // namespace
}  // namespace graft::nn
