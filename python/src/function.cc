// graft.function: a Python training step captured into a graft graph.
//
//   @graft.function
//   def train_step(x, num_layers):
//       with graft.GradientTape() as tape:
//           loss = graft.mean(graft.square(model(x, num_layers)))
//       ...
//       return loss
//
// The first call with a given signature runs the Python callable once with
// symbolic tensors (capture); later calls replay the optimised graph without
// running Python at all. Tensor arguments (graft.Tensor, graft.Variable, numpy
// arrays) are traced; bool, int, float, str and None arguments are static:
// their exact values key the cache, as TensorFlow does for Python values. The
// cache key also holds the structure epoch of every store the capture
// touched, so a model that grew recaptures (reusing every existing variable,
// creating only the new ones) instead of raising TensorFlow's "singleton
// variables" error. Replays run without the GIL.
#include "bindings.h"

namespace graft::python {
namespace {

class PythonFunction {
 public:
  PythonFunction(py::function fn, FunctionOptions options) : fn_(std::move(fn)), core_(std::move(options)) {}

  py::object call(const py::args& args, const py::kwargs& kwargs) {
    std::vector<Tensor> inputs;
    trace::internal::StaticKey statics;
    std::vector<bool> traced_args;
    for (py::handle a : args) traced_args.push_back(collect(a, "", inputs, statics));
    // Keyword arguments join the key with their names, in a fixed order.
    py::list names = py::list(kwargs.attr("keys")());
    names.attr("sort")();
    std::vector<bool> traced_kwargs;
    for (py::handle name : names) {
      traced_kwargs.push_back(collect(kwargs[name], name.cast<std::string>() + "=", inputs, statics));
    }
    auto body = [&](const std::vector<Tensor>& in) -> std::vector<Tensor> {
      py::gil_scoped_acquire gil;
      size_t next = 0;
      py::tuple call_args(args.size());
      for (size_t i = 0; i < args.size(); ++i) {
        call_args[i] = traced_args[i] ? py::cast(in.at(next++)) : py::reinterpret_borrow<py::object>(args[i]);
      }
      py::dict call_kwargs;
      for (size_t i = 0; i < names.size(); ++i) {
        py::handle name = names[i];
        call_kwargs[name] = traced_kwargs[i] ? py::cast(in.at(next++)) : py::reinterpret_borrow<py::object>(kwargs[name]);
      }
      return results(fn_(*call_args, **call_kwargs));
    };
    std::vector<Tensor> out;
    {
      py::gil_scoped_release release;
      out = core_.call(inputs, statics, body);
    }
    if (returns_none_) return py::none();
    if (returns_single_) return py::cast(out.at(0));
    return py::cast(out);
  }

  std::string explain() const { return core_.explain(); }
  int captures() const { return core_.captures(); }
  int calls() const { return core_.calls(); }
  std::string graph_text() const { return core_.graph_text(); }

 private:
  // Adds `a` to the traced inputs (true) or to the static key (false).
  static bool collect(py::handle a, const std::string& prefix, std::vector<Tensor>& inputs,
                      trace::internal::StaticKey& statics) {
    if (py::isinstance<Tensor>(a) || py::isinstance<Variable>(a) || py::isinstance<py::array>(a)) {
      inputs.push_back(to_tensor(a));
      return true;
    }
    std::string type;
    if (a.is_none()) {
      type = "None";
    } else if (py::isinstance<py::bool_>(a)) {
      type = "bool";
    } else if (py::isinstance<py::int_>(a)) {
      type = "int";
    } else if (py::isinstance<py::float_>(a)) {
      type = "float";
    } else if (py::isinstance<py::str>(a)) {
      type = "str";
    } else {
      throw py::type_error(
          "graft.function: an argument must be a tensor (graft.Tensor, graft.Variable, numpy array) or a bool, "
          "int, float, str or None, whose value keys the captured graph; got " +
          py::str(py::type::of(a).attr("__name__")).cast<std::string>() +
          "\n  help: use the object from the function's closure (a model, an optimizer) instead of passing it");
    }
    std::string text = py::repr(a);
    trace::internal::append_static(statics, prefix + type, text, prefix + text);
    return false;
  }

  // What the callable returned, as tensors; remembers the structure so that
  // replays return the same kind of value.
  std::vector<Tensor> results(const py::object& r) {
    returns_none_ = r.is_none();
    returns_single_ = !py::isinstance<py::tuple>(r) && !py::isinstance<py::list>(r);
    if (returns_none_) return {};
    if (returns_single_) return {to_tensor(r)};
    std::vector<Tensor> out;
    for (py::handle x : r) out.push_back(to_tensor(x));
    return out;
  }

  py::function fn_;
  trace::internal::FunctionCore core_;
  bool returns_none_ = false;
  bool returns_single_ = true;
};

}  // namespace

void init_function(py::module_& m) {
  py::class_<PythonFunction>(m, "Function", R"doc(
A Python callable compiled by graft.function: captured on the first call with
each signature, replayed after, recaptured when a store it touched changes
structure (a grown model). explain() says why each capture happened.)doc")
      .def(py::init([](py::function fn, std::string name, bool strict, int recapture_warning, int max_cached_graphs) {
             return std::make_unique<PythonFunction>(std::move(fn), FunctionOptions()
                                                                        .name(std::move(name))
                                                                        .strict(strict)
                                                                        .recapture_warning(recapture_warning)
                                                                        .max_cached_graphs(max_cached_graphs));
           }),
           py::arg("fn"), py::kw_only(), py::arg("name") = "function", py::arg("strict") = false,
           py::arg("recapture_warning") = 8, py::arg("max_cached_graphs") = 32)
      .def("__call__", &PythonFunction::call)
      .def("explain", &PythonFunction::explain, "Why each capture happened, one line each.")
      .def_property_readonly("captures", &PythonFunction::captures)
      .def_property_readonly("calls", &PythonFunction::calls)
      .def("graph_text", &PythonFunction::graph_text, "The graph the last call ran, as text.");
}

}  // namespace graft::python
