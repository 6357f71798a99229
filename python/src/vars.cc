// Variables, stores, scopes, initializers, the creation audit and
// GradientTape.
//
//   store = graft.VariableStore("model", seed=7)
//   with store.root().child("layer_0"):                  # TF1's variable_scope
//       w = graft.get_variable("weights", [10, 10], graft.init.normal(0, 0.3))
//   with graft.GradientTape() as tape:
//       loss = graft.mean(graft.square(x @ w))
//   (g,) = tape.gradient(loss, [w])
//
// Every creating call records the Python caller's file:line as the
// variable's creation site (location.cc), so errors and the audit point at
// the user's code.
#include <memory>

#include "bindings.h"

namespace graft::python {

void add_variable_operators(py::class_<Variable>& cls);

namespace {

// Scopes made current by `with scope:` blocks on this thread, innermost
// last. `with` blocks nest, so exits pop in order.
thread_local std::vector<std::unique_ptr<VariableScope>> t_entered;

Initializer to_initializer(py::handle init) {
  if (init.is_none()) return init::zeros();
  if (py::isinstance<Initializer>(init)) return init.cast<Initializer>();
  if (py::isinstance<py::float_>(init) || py::isinstance<py::int_>(init)) return init::constant(init.cast<double>());
  return init::from_tensor(to_tensor(init).clone());
}

Reuse to_reuse(py::handle reuse, Reuse inherited) {
  if (reuse.is_none()) return inherited;
  if (py::isinstance<Reuse>(reuse)) return reuse.cast<Reuse>();
  // TF1's reuse=True / reuse=False.
  if (py::isinstance<py::bool_>(reuse)) return reuse.cast<bool>() ? Reuse::kReuse : Reuse::kCreate;
  throw py::type_error("reuse: expected graft.Reuse, True, False or None");
}

VariableOptions variable_options(DType dtype, bool trainable) {
  return VariableOptions().dtype(dtype).trainable(trainable);
}

std::vector<std::optional<Tensor>> gradients(GradientTape& tape, py::handle target, py::handle sources,
                                             py::handle output_gradient) {
  std::vector<Tensor> tensors;
  for (py::handle s : sources) {
    // A variable is differentiated through its buffer, which reading it
    // under the tape watched (raw_value: asking does not watch it again).
    tensors.push_back(py::isinstance<Variable>(s) ? s.cast<const Variable&>().raw_value() : to_tensor(s));
  }
  Tensor seed = output_gradient.is_none() ? Tensor() : to_tensor(output_gradient);
  return tape.gradient(to_tensor(target), tensors, seed);
}

void init_initializers(py::module_& m) {
  py::class_<Initializer>(m, "Initializer", "How a variable's first value is made (see graft.init).")
      .def_property_readonly("name", &Initializer::name)
      .def("__repr__", [](const Initializer& i) { return "graft.init." + i.name(); });
  py::module_ init = m.def_submodule("init", "Initializers: seeded from the store's seed and the variable's path.");
  init.def("zeros", &init::zeros);
  init.def("ones", &init::ones);
  init.def("constant", &init::constant, py::arg("value"));
  init.def("uniform", &init::uniform, py::arg("low") = -0.05, py::arg("high") = 0.05);
  init.def("normal", &init::normal, py::arg("mean") = 0.0, py::arg("stddev") = 0.05);
  init.def("truncated_normal", &init::truncated_normal, py::arg("mean") = 0.0, py::arg("stddev") = 0.05);
  init.def("glorot_uniform", &init::glorot_uniform);
  init.def("glorot_normal", &init::glorot_normal);
  init.def("he_uniform", &init::he_uniform);
  init.def("he_normal", &init::he_normal);
  init.def("orthogonal", &init::orthogonal, py::arg("gain") = 1.0);
  init.def("from_tensor", [](py::handle value) { return init::from_tensor(to_tensor(value).clone()); },
           py::arg("value"), "Copies `value` (its shape must be the variable's).");
}

void init_variable(py::module_& m) {
  py::class_<Variable> variable(m, "Variable", R"doc(
A mutable, named tensor whose identity is its path.

graft.Variable(value, name) is unkeyed creation (TensorFlow's tf.Variable):
it registers under the current scope with a unique name. Prefer
scope.variable(name, shape, init) or graft.get_variable(...), get-or-create
by path. Reading a trainable variable under a GradientTape watches it.)doc");
  variable
      .def(py::init([](py::handle initial_value, const std::string& name, bool trainable) {
             return Variable(to_tensor(initial_value), name, VariableOptions().trainable(trainable), caller_location());
           }),
           py::arg("initial_value"), py::arg("name") = "Variable", py::kw_only(), py::arg("trainable") = true)
      .def_property_readonly("path", &Variable::path)
      .def_property_readonly("name", [](const Variable& v) { return std::string(v.name()); })
      .def_property_readonly("shape", [](const Variable& v) { return shape_tuple(v.shape()); })
      .def_property_readonly("dtype", &Variable::dtype)
      .def_property_readonly("id", &Variable::id)
      .def_property("trainable", &Variable::trainable, &Variable::set_trainable)
      .def_property_readonly("created_at",
                             [](const Variable& v) { return graft::base::internal::format_location(v.created_at()); },
                             "Where the variable was created: 'model.py:12'.")
      .def_property_readonly("is_retired", &Variable::is_retired)
      .def_property_readonly("retirement", &Variable::retirement)
      .def("value", &Variable::value, "The current value (watched by active tapes when trainable).")
      .def("read_value", &Variable::value)
      .def("numpy", [](const Variable& v) { return py::module_::import("numpy").attr("asarray")(py::cast(v.raw_value().clone())); },
           "A copy of the current value as a numpy array.")
      // numpy.asarray(v): a copy, as TensorFlow gives (a view would change
      // under the next optimizer step).
      .def("__array__",
           [](const Variable& v, py::object dtype) {
             py::object array = py::module_::import("numpy").attr("asarray")(py::cast(v.raw_value().clone()));
             return dtype.is_none() ? array : array.attr("astype")(dtype);
           },
           py::arg("dtype") = py::none())
      .def("assign", [](const Variable& v, py::handle x) { v.assign(to_tensor_like(x, v.raw_value())); },
           py::arg("value"))
      .def("assign_add", [](const Variable& v, py::handle x) { v.assign_add(to_tensor_like(x, v.raw_value())); },
           py::arg("delta"))
      .def("assign_sub", [](const Variable& v, py::handle x) { v.assign_sub(to_tensor_like(x, v.raw_value())); },
           py::arg("delta"))
      .def("__eq__", [](const Variable& a, py::handle b) { return py::isinstance<Variable>(b) && a == b.cast<const Variable&>(); })
      .def("__hash__", [](const Variable& v) { return v.id(); })
      .def("__repr__", [](const Variable& v) {
        if (!v.defined()) return std::string("<graft.Variable undefined>");
        return "<graft.Variable '" + v.path() + "' shape=" + v.shape().to_string() + " dtype=" +
               std::string(dtype_name(v.dtype())) + (v.is_retired() ? " retired" : "") + ">";
      });
  add_variable_operators(variable);
  py::implicitly_convertible<Variable, Tensor>();
}

void init_store(py::module_& m) {
  py::enum_<Reuse>(m, "Reuse", "How scope.variable treats an existing path (TF1's variable_scope reuse).")
      .value("CREATE", Reuse::kCreate)
      .value("REUSE", Reuse::kReuse)
      .value("AUTO_REUSE", Reuse::kAutoReuse);
  m.attr("AUTO_REUSE") = Reuse::kAutoReuse;

  py::class_<AuditReport>(m, "AuditReport", "One creation site the audit saw re-creating dropped variables.")
      .def_readonly("site", &AuditReport::site)
      .def_readonly("name", &AuditReport::name)
      .def_readonly("recreations", &AuditReport::recreations)
      .def_readonly("message", &AuditReport::message)
      .def("__repr__", [](const AuditReport& r) { return r.message; });

  py::class_<VariableStore>(m, "VariableStore", R"doc(
Where variables live and are found again by path.

Every create and retire moves the store's structure epoch; compiled
functions and optimizers compare epochs to notice a changed model.)doc")
      .def(py::init<std::string, uint64_t>(), py::arg("name") = "", py::arg("seed") = 0)
      .def_property_readonly("name", &VariableStore::name)
      .def_property_readonly("seed", &VariableStore::seed)
      .def_property_readonly("epoch", &VariableStore::epoch)
      .def("root", &VariableStore::root, py::keep_alive<0, 1>())
      .def("variables", &VariableStore::variables)
      .def("trainable_variables", &VariableStore::trainable_variables)
      .def("find", &VariableStore::find, py::arg("path"))
      .def("__len__", &VariableStore::size)
      .def(
          "retire",
          [](VariableStore& s, const Variable& v, const std::string& reason) { s.retire(v, reason, caller_location()); },
          py::arg("variable"), py::arg("reason"))
      .def("touch", &VariableStore::touch)
      .def(
          "set_audit_options",
          [](VariableStore& s, int threshold, bool strict, bool warn) {
            s.set_audit_options(AuditOptions().threshold(threshold).strict(strict).print_warnings(warn));
          },
          py::kw_only(), py::arg("threshold") = 2, py::arg("strict") = false, py::arg("warn") = true,
          "The creation audit: report a site once it re-created a dropped variable `threshold` times; strict "
          "raises graft.ValueError from the creating call instead of warning.")
      .def("audit_reports", &VariableStore::audit_reports)
      .def_static("default_store", &VariableStore::default_store, py::return_value_policy::reference,
                  "The store unkeyed variables go to outside every scope.");

  py::class_<Scope>(m, "Scope", R"doc(
A node of a store's path tree. scope.variable(...) is get-or-create by path;
`with scope:` makes it the current scope (TF1's variable_scope), so
graft.get_variable and graft.Variable create under it.)doc")
      .def_property_readonly("path", &Scope::path)
      .def_property_readonly("reuse", &Scope::reuse)
      .def_property_readonly("store", &Scope::store, py::return_value_policy::reference)
      .def(
          "child",
          [](const Scope& s, std::string_view name, py::handle reuse) { return s.child(name, to_reuse(reuse, s.reuse())); },
          py::arg("name"), py::arg("reuse") = py::none(), py::keep_alive<0, 1>())
      .def(
          "variable",
          [](const Scope& s, std::string_view name, py::handle shape, py::handle initializer, DType dtype,
             bool trainable) {
            return s.variable(name, to_shape(shape), to_initializer(initializer), variable_options(dtype, trainable),
                              caller_location());
          },
          py::arg("name"), py::arg("shape"), py::arg("initializer") = py::none(), py::kw_only(),
          py::arg("dtype") = DType::kFloat32, py::arg("trainable") = true)
      .def("path_of", &Scope::path_of, py::arg("name"))
      .def("__enter__",
           [](const Scope& s) {
             t_entered.push_back(std::make_unique<VariableScope>(s));
             return s;
           })
      .def("__exit__", [](const Scope&, py::args) { if (!t_entered.empty()) t_entered.pop_back(); })
      .def("__repr__", [](const Scope& s) { return "<graft.Scope '" + s.path() + "'>"; });

  m.def("current_scope", &current_scope, "The innermost scope entered on this thread, or the default store's root.");
  m.def(
      "variable_scope",
      [](std::string_view name, py::handle reuse) {
        Scope current = current_scope();
        return current.child(name, to_reuse(reuse, current.reuse()));
      },
      py::arg("name"), py::arg("reuse") = py::none(),
      "A child of the current scope, for `with graft.variable_scope(\"layer_1\"):` (TF1's variable_scope).");
  m.def(
      "get_variable",
      [](std::string_view name, py::handle shape, py::handle initializer, DType dtype, bool trainable) {
        return get_variable(name, to_shape(shape), to_initializer(initializer), variable_options(dtype, trainable),
                            caller_location());
      },
      py::arg("name"), py::arg("shape"), py::arg("initializer") = py::none(), py::kw_only(),
      py::arg("dtype") = DType::kFloat32, py::arg("trainable") = true,
      "TF1's get_variable: get-or-create `name` under the current scope; a different shape or dtype raises "
      "graft.ShapeError / graft.DTypeError naming both creation sites.");
}

void init_tape(py::module_& m) {
  py::class_<GradientTape>(m, "GradientTape", R"doc(
Reverse-mode gradients with TensorFlow 2 semantics.

    with graft.GradientTape() as tape:
        loss = ...
    grads = tape.gradient(loss, model.trainable_variables())

The tape records ops on this thread from its creation until the `with` block
ends; trainable variables read meanwhile are watched. gradient() returns one
tensor per source, None for a source the target does not depend on; a
non-persistent tape answers once.)doc")
      .def(py::init([](bool persistent) { return std::make_unique<GradientTape>(GradientTapeOptions().persistent(persistent)); }), py::kw_only(),
           py::arg("persistent") = false)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](GradientTape& t, py::args) { t.set_recording(false); })
      .def("watch", [](GradientTape& t, py::handle x) { t.watch(to_tensor(x)); }, py::arg("tensor"))
      .def("stop_recording", [](GradientTape& t) { t.set_recording(false); })
      .def("resume_recording", [](GradientTape& t) { t.set_recording(true); })
      .def_property_readonly("persistent", &GradientTape::persistent)
      .def(
          "gradient",
          [](GradientTape& t, py::handle target, py::handle sources, py::handle output_gradients) -> py::object {
            bool single = py::isinstance<Tensor>(sources) || py::isinstance<Variable>(sources) ||
                          py::isinstance<py::array>(sources);
            if (single) {
              py::list one;
              one.append(sources);
              return py::cast(gradients(t, target, one, output_gradients).at(0));
            }
            return py::cast(gradients(t, target, sources, output_gradients));
          },
          py::arg("target"), py::arg("sources"), py::arg("output_gradients") = py::none());
}

}  // namespace

void init_vars(py::module_& m) {
  init_initializers(m);
  init_variable(m);
  init_store(m);
  init_tape(m);
}

}  // namespace graft::python
