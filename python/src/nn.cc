// graft.nn: layers and Sequential, which can grow and shrink while training.
//
//   model = graft.nn.Sequential([graft.nn.Linear(64, activation="relu"),
//                                graft.nn.Linear(10)], name="mlp")
//   logits = model(x)            # builds on the first call: mlp/layer_0/kernel, ...
//   model.insert(1, graft.nn.Linear(64))
//   model.remove(0)              # retires mlp/layer_0's variables
//
// Layers record the Python line that made them (or added them to a
// Sequential) as their variables' creation site.
#include "graft/nn/batch_norm.h"
#include "graft/nn/conv.h"

#include "bindings.h"

namespace graft::python {
namespace {

using ModulePtr = std::shared_ptr<nn::Module>;

// A module whose forward is written in Python (a subclass of graft.nn.Module).
// Its forward may run where graft released the GIL (inside a Sequential, a
// compiled step's capture), so it takes the GIL itself.
class PythonModule : public nn::Module {
 public:
  using nn::Module::Module;
  Tensor forward(const Tensor& input) override {
    py::gil_scoped_acquire gil;
    PYBIND11_OVERRIDE_PURE(Tensor, nn::Module, forward, input);
  }
  std::string describe() const override {
    py::gil_scoped_acquire gil;
    return py::str(py::type::of(py::cast(this)).attr("__name__")).cast<std::string>() + "()";
  }
  // The protected members a Python subclass uses.
  using nn::Module::add_variable;
  using nn::Module::insert_child;
};

nn::Activation to_activation(py::handle a) {
  if (a.is_none()) return nn::Activation::kNone;
  if (py::isinstance<nn::Activation>(a)) return a.cast<nn::Activation>();
  std::string name = py::str(a);
  if (name == "relu") return nn::Activation::kRelu;
  if (name == "tanh") return nn::Activation::kTanh;
  if (name == "sigmoid") return nn::Activation::kSigmoid;
  if (name == "none" || name == "linear") return nn::Activation::kNone;
  throw ValueError("activation: expected \"relu\", \"tanh\", \"sigmoid\" or None, got \"" + name + "\"");
}

Initializer initializer_or(py::handle init, Initializer fallback) {
  if (init.is_none()) return fallback;
  return init.cast<Initializer>();
}

void init_module(py::module_& nn_module) {
  py::class_<nn::Module, PythonModule, ModulePtr>(nn_module, "Module", R"doc(
The base of every layer and model. A module owns a scope whose path is its
identity; its variables live under it and are found again by path.

Subclass it for a model of your own:

    class Mlp(graft.nn.Module):
        def __init__(self):
            super().__init__("mlp")
            self.hidden = self.register_module("hidden", graft.nn.Linear(64, activation="relu"))
            self.out = self.register_module("out", graft.nn.Linear(10))
            self.scale = None

        def forward(self, x):
            scale = self.variable("scale", [], graft.init.ones())   # get-or-create by path
            return self.out(self.hidden(x)) * scale

Children and variables are keyed by path (mlp/hidden/kernel, mlp/scale), so
calling forward again, in a compiled step's recapture too, never creates a
second variable.)doc")
      .def(py::init([](const std::string& name) { return std::make_shared<PythonModule>(name, caller_location()); }),
           py::arg("name"))
      .def("forward", &nn::Module::forward, py::arg("x"))
      .def(
          "register_module",
          [](nn::Module& self, const std::string& name, ModulePtr child) {
            static_cast<PythonModule&>(self).insert_child(self.children().size(), name, child, caller_location());
            return child;
          },
          py::arg("name"), py::arg("module"), py::keep_alive<1, 3>(),
          "Registers `module` as the child `name` (its variables live at <path>/<name>/...); returns it.")
      .def(
          "variable",
          [](nn::Module& self, std::string_view name, py::handle shape, const Initializer& init, DType dtype,
             bool trainable) {
            return static_cast<PythonModule&>(self).add_variable(name, to_shape(shape), init,
                                                                 VariableOptions().dtype(dtype).trainable(trainable));
          },
          py::arg("name"), py::arg("shape"), py::arg("initializer") = init::zeros(), py::kw_only(),
          py::arg("dtype") = DType::kFloat32, py::arg("trainable") = true,
          "Get-or-create a variable of this module by path (<path>/<name>), attributed to where the module was "
          "defined; not trainable while the module is frozen.")
      .def(
          "__call__",
          [](nn::Module& m, py::handle x) {
            Tensor input = to_tensor(x);
            py::gil_scoped_release release;
            return m(input);
          },
          py::arg("x"))
      .def_property_readonly("name", &nn::Module::name)
      .def_property_readonly("path", &nn::Module::path)
      .def_property_readonly("store", &nn::Module::store, py::return_value_policy::reference_internal)
      .def_property_readonly("epoch", &nn::Module::epoch)
      .def("scope", &nn::Module::scope, py::keep_alive<0, 1>())
      .def("variables", &nn::Module::variables)
      .def("trainable_variables", &nn::Module::trainable_variables)
      .def("named_variables", &nn::Module::named_variables)
      .def("parameter_count", &nn::Module::parameter_count)
      .def("freeze", &nn::Module::freeze)
      .def("unfreeze", &nn::Module::unfreeze)
      .def_property_readonly("frozen", &nn::Module::frozen)
      .def("train", &nn::Module::train, py::arg("on") = true)
      .def("eval", &nn::Module::eval)
      .def_property_readonly("training", &nn::Module::is_training)
      .def_property_readonly("built", &nn::Module::built)
      .def("build", [](nn::Module& m, py::handle shape, DType dtype) { m.build(to_shape(shape), dtype); },
           py::arg("input_shape"), py::arg("dtype") = DType::kFloat32)
      .def("set_seed", &nn::Module::set_seed, py::arg("seed"))
      .def("children", [](const nn::Module& m) { return m.children(); })
      .def("summary", &nn::Module::summary)
      .def("describe", &nn::Module::describe)
      .def("__repr__", [](const nn::Module& m) { return m.describe(); });
}

void init_layers(py::module_& nn_module) {
  py::enum_<nn::Activation>(nn_module, "Activation")
      .value("NONE", nn::Activation::kNone)
      .value("RELU", nn::Activation::kRelu)
      .value("TANH", nn::Activation::kTanh)
      .value("SIGMOID", nn::Activation::kSigmoid);

  py::class_<nn::Linear, nn::Module, std::shared_ptr<nn::Linear>>(nn_module, "Linear",
                                                                  "activation(x @ kernel + bias); kernel [in, out].")
      .def(py::init([](int64_t out_features, bool bias, py::handle activation, py::handle kernel_init,
                       py::handle bias_init) {
             nn::LinearOptions options(out_features);
             options.bias(bias).activation(to_activation(activation));
             options.kernel_init(initializer_or(kernel_init, init::glorot_uniform()));
             options.bias_init(initializer_or(bias_init, init::zeros()));
             return std::make_shared<nn::Linear>(options, caller_location());
           }),
           py::arg("out_features"), py::kw_only(), py::arg("bias") = true, py::arg("activation") = py::none(),
           py::arg("kernel_initializer") = py::none(), py::arg("bias_initializer") = py::none())
      .def_property_readonly("kernel", &nn::Linear::kernel)
      .def_property_readonly("bias", &nn::Linear::bias)
      .def_property_readonly("in_features", &nn::Linear::in_features)
      .def_property_readonly("out_features", [](const nn::Linear& l) { return l.options().out_features(); });
  nn_module.attr("Dense") = nn_module.attr("Linear");

  py::class_<nn::ReLU, nn::Module, std::shared_ptr<nn::ReLU>>(nn_module, "ReLU")
      .def(py::init([] { return std::make_shared<nn::ReLU>(caller_location()); }));
  py::class_<nn::Tanh, nn::Module, std::shared_ptr<nn::Tanh>>(nn_module, "Tanh")
      .def(py::init([] { return std::make_shared<nn::Tanh>(caller_location()); }));
  py::class_<nn::Sigmoid, nn::Module, std::shared_ptr<nn::Sigmoid>>(nn_module, "Sigmoid")
      .def(py::init([] { return std::make_shared<nn::Sigmoid>(caller_location()); }));
  py::class_<nn::Flatten, nn::Module, std::shared_ptr<nn::Flatten>>(nn_module, "Flatten")
      .def(py::init([] { return std::make_shared<nn::Flatten>(caller_location()); }));
  py::class_<nn::Dropout, nn::Module, std::shared_ptr<nn::Dropout>>(nn_module, "Dropout")
      .def(py::init([](double rate, uint64_t seed) {
             return std::make_shared<nn::Dropout>(nn::DropoutOptions(rate).seed(seed), caller_location());
           }),
           py::arg("rate"), py::kw_only(), py::arg("seed") = 0);
  py::class_<nn::Conv2d, nn::Module, std::shared_ptr<nn::Conv2d>>(nn_module, "Conv2d",
                                                                  "2-D convolution over NCHW input (OIHW kernel).")
      .def(py::init([](int64_t out_channels, int64_t kernel_size, int64_t stride, py::handle padding, bool bias) {
             nn::Conv2dOptions options(out_channels, kernel_size);
             options.stride(stride).bias(bias);
             if (py::isinstance<py::str>(padding)) {
               std::string mode = py::str(padding);
               GRAFT_CHECK(mode == "same" || mode == "valid", "Conv2d: padding must be an int, \"same\" or ",
                           "\"valid\", got \"", mode, "\"");
               options.padding(mode == "same" ? Padding::kSame : Padding::kValid);
             } else {
               options.padding(padding.cast<int64_t>());
             }
             return std::make_shared<nn::Conv2d>(options, caller_location());
           }),
           py::arg("out_channels"), py::arg("kernel_size"), py::kw_only(), py::arg("stride") = 1,
           py::arg("padding") = 0, py::arg("bias") = true);
  py::class_<nn::MaxPool2d, nn::Module, std::shared_ptr<nn::MaxPool2d>>(nn_module, "MaxPool2d")
      .def(py::init([](int64_t kernel_size) {
             return std::make_shared<nn::MaxPool2d>(Pool2dOptions(kernel_size), caller_location());
           }),
           py::arg("kernel_size"));
  py::class_<nn::BatchNorm, nn::Module, std::shared_ptr<nn::BatchNorm>>(nn_module, "BatchNorm")
      .def(py::init([](double momentum, double eps) {
             return std::make_shared<nn::BatchNorm>(nn::BatchNormOptions().momentum(momentum).eps(eps),
                                                    caller_location());
           }),
           py::kw_only(), py::arg("momentum") = 0.1, py::arg("eps") = 1e-5);
}

void init_sequential(py::module_& nn_module) {
  py::class_<nn::Sequential, nn::Module, std::shared_ptr<nn::Sequential>>(nn_module, "Sequential", R"doc(
A chain of layers that can grow and shrink while it trains. Layers are named
by a counter that never reuses a number (layer_0, layer_1, ...), so a layer's
path never changes; every add, insert and remove moves the store's epoch, and
remove() retires the layer's variables.)doc")
      .def(py::init([](py::handle layers, const std::string& name) {
             auto model = std::make_shared<nn::Sequential>(name, caller_location());
             if (!layers.is_none()) {
               for (py::handle layer : layers) model->add(layer.cast<ModulePtr>(), caller_location());
             }
             return model;
           }),
           py::arg("layers") = py::none(), py::kw_only(), py::arg("name") = "sequential", py::keep_alive<1, 2>())
      .def(
          "add", [](nn::Sequential& s, ModulePtr layer) { return s.add(std::move(layer), caller_location()); },
          py::arg("layer"), py::keep_alive<1, 2>())
      .def(
          "insert",
          [](nn::Sequential& s, size_t index, ModulePtr layer) {
            return s.insert(index, std::move(layer), caller_location());
          },
          py::arg("index"), py::arg("layer"), py::keep_alive<1, 3>())
      .def(
          "remove", [](nn::Sequential& s, size_t index) { s.remove(index, caller_location()); }, py::arg("index"),
          "Removes the layer at `index` and retires its variables.")
      .def("__len__", &nn::Sequential::size)
      .def("__getitem__",
           [](const nn::Sequential& s, int64_t index) {
             int64_t n = static_cast<int64_t>(s.size());
             if (index < 0) index += n;
             if (index < 0 || index >= n) throw py::index_error("Sequential index out of range");
             return s.at(static_cast<size_t>(index));
           })
      .def_property_readonly("layers", [](const nn::Sequential& s) { return s.children(); });
}

}  // namespace

void init_nn(py::module_& m) {
  py::module_ nn_module = m.def_submodule("nn", "Layers and Sequential.");
  init_module(nn_module);
  init_layers(nn_module);
  init_sequential(nn_module);
}

}  // namespace graft::python
