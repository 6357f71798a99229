// graft/nn/sequential.h: a chain of layers that can grow and shrink while it
// trains.
//
//   nn::Sequential model("mlp");
//   model.add(nn::Linear(nn::LinearOptions(64).activation(nn::Activation::kRelu)));  // mlp/layer_0
//   model.add(nn::Linear(nn::LinearOptions(10)));                                   // mlp/layer_1
//   ...train...
//   model.insert(1, nn::Linear(nn::LinearOptions(64)));  // mlp/layer_2, run second
//   model.remove(0);   // retires mlp/layer_0/kernel and bias
//
// Children are named by a counter that never reuses a number (layer_0,
// layer_1, ...), whatever their position, so the path of an existing layer
// never changes: optimizer slots, compiled functions and checkpoints keyed by
// path stay valid as the model changes. Every add, insert and remove moves
// the store's structure epoch. remove() retires the layer's variables with a
// reason that names the call and the layer's path; using them, or the removed
// layer, afterwards throws an error that says so.
#pragma once

#include <memory>
#include <source_location>
#include <string>

#include "graft/nn/module.h"

namespace graft::nn {

// Layers run in order, added, inserted and removed while the model trains
// (header comment).
class Sequential : public Module {
 public:
  // An empty chain named `name`, defined at `location`.
  explicit Sequential(std::string name = "sequential",
                      std::source_location location = std::source_location::current());

  // Appends `layer`; returns it.
  template <std::derived_from<Module> M>
  std::shared_ptr<M> add(M layer, std::source_location location = std::source_location::current()) {
    return insert(size(), std::move(layer), location);
  }
  template <std::derived_from<Module> M>
  std::shared_ptr<M> add(std::shared_ptr<M> layer, std::source_location location = std::source_location::current()) {
    return insert(size(), std::move(layer), location);
  }

  // Places `layer` at position `index` (0..size()), named by the counter.
  // ValueError for an index out of range.
  template <std::derived_from<Module> M>
  std::shared_ptr<M> insert(size_t index, M layer, std::source_location location = std::source_location::current()) {
    return insert(index, std::make_shared<M>(std::move(layer)), location);
  }
  template <std::derived_from<Module> M>
  std::shared_ptr<M> insert(size_t index, std::shared_ptr<M> layer,
                            std::source_location location = std::source_location::current()) {
    insert_child(index, next_name(), layer, location);
    return layer;
  }

  // Removes the layer at `index` and retires its variables
  // ("Sequential::remove(1) of layer 'mlp/layer_1'"). ValueError for an
  // index out of range.
  void remove(size_t index, std::source_location location = std::source_location::current());

  // The number of layers, and whether there are none.
  size_t size() const { return children().size(); }
  bool empty() const { return children().empty(); }
  // The layer at `index`; ValueError out of range.
  std::shared_ptr<Module> at(size_t index) const;

  // Runs every layer in order. An empty Sequential returns its input.
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  // ValueError unless 0 <= index < size(), naming `call`.
  void check_index(const char* call, size_t index) const;
  std::string next_name();
  int next_index_ = 0;
};

}  // namespace graft::nn
