#include "graft/nn/sequential.h"

#include "graft/base/check.h"

namespace graft::nn {

Sequential::Sequential(std::string name, std::source_location location) : Module(std::move(name), location) {}

std::string Sequential::next_name() { return "layer_" + std::to_string(next_index_++); }

void Sequential::remove(size_t index, std::source_location location) {
  GRAFT_CHECK(index < size(), "Sequential::remove(", index, ") on '", path(), "': it has ", size(), " layers");
  const std::string reason = graft::base::internal::str("Sequential::remove(", index, ") of layer '", at(index)->path(), "'");
  remove_child(index, reason, location);
}

std::shared_ptr<Module> Sequential::at(size_t index) const {
  GRAFT_CHECK(index < size(), "Sequential::at(", index, ") on '", path(), "': it has ", size(), " layers");
  return children()[index];
}

Tensor Sequential::forward(const Tensor& x) {
  ensure_built(x);
  Tensor y = x;
  for (const auto& layer : children()) y = (*layer)(y);
  return y;
}

std::string Sequential::describe() const { return graft::base::internal::str("Sequential(", size(), " layers)"); }

}  // namespace graft::nn
