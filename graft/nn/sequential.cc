#include "graft/nn/sequential.h"

#include "graft/base/check.h"

namespace graft::nn {

Sequential::Sequential(std::string name, std::source_location location) : Module(std::move(name), location) {}

std::string Sequential::next_name() { return "layer_" + std::to_string(next_index_++); }

namespace {

// "1 layer", "3 layers".
std::string layers(size_t n) { return graft::base::internal::str(n, n == 1 ? " layer" : " layers"); }

}  // namespace

void Sequential::check_index(const char* call, size_t index) const {
  if (index < size()) return;
  if (empty()) {
    graft::base::internal::throw_error<ValueError>("Sequential::", call, "(", index, ") on '", path(),
                                                   "': it has no layers\n  help: add a layer first");
  }
  graft::base::internal::throw_error<ValueError>("Sequential::", call, "(", index, ") on '", path(), "': it has ",
                                                 layers(size()), ", at positions 0 to ", size() - 1,
                                                 "\n  help: the last layer is at size() - 1");
}

void Sequential::remove(size_t index, std::source_location location) {
  check_index("remove", index);
  const std::string reason = graft::base::internal::str("Sequential::remove(", index, ") of layer '", at(index)->path(), "'");
  remove_child(index, reason, location);
}

std::shared_ptr<Module> Sequential::at(size_t index) const {
  check_index("at", index);
  return children()[index];
}

Tensor Sequential::forward(const Tensor& x) {
  ensure_built(x);
  Tensor y = x;
  for (const auto& layer : children()) y = (*layer)(y);
  return y;
}

std::string Sequential::describe() const { return graft::base::internal::str("Sequential(", layers(size()), ")"); }

}  // namespace graft::nn
