// graft.optim (SGD, Adam, AdamW), graft.edit (widen, deepen, prune) and
// checkpoints (graft.save_checkpoint, graft.restore_checkpoint), plus the
// growth-plan parser graft.fit shares with `graft train`.
//
//   opt = graft.optim.Adam(1e-3)
//   opt.apply_gradients(zip(grads, model.trainable_variables()))
//   graft.edit.widen(model, 0, 512, optimizer=opt, probe=x[:64])
//   graft.save_checkpoint("run.safetensors", [model, opt])
//   report = graft.restore_checkpoint("run.safetensors", [model, opt])
#include "graft/cli/growth_plan.h"

#include "bindings.h"

namespace graft::python {
namespace {

using OptimizerPtr = std::shared_ptr<optim::Optimizer>;

void init_optim(py::module_& m) {
  py::module_ optim = m.def_submodule("optim", "Optimizers: slots keyed by variable identity.");
  init_schedules(optim);
  py::class_<optim::Optimizer, OptimizerPtr>(optim, "Optimizer", R"doc(
The base of the optimizers. Slots (momentum, Adam's m and v) are variables in
the optimizer's own store, keyed by the variable they belong to: a variable
added by growth gets its slots on its first update, a retired one loses them.)doc")
      .def(
          "apply_gradients",
          [](optim::Optimizer& o, py::iterable grads_and_vars) {
            std::vector<Variable> vars;
            std::vector<std::optional<Tensor>> grads;
            for (py::handle pair : grads_and_vars) {
              auto item = py::reinterpret_borrow<py::sequence>(pair);
              if (py::len(item) != 2) throw py::type_error("apply_gradients: expected (gradient, variable) pairs");
              py::handle g = item[0];
              grads.push_back(g.is_none() ? std::nullopt : std::optional<Tensor>(to_tensor(g)));
              vars.push_back(item[1].cast<Variable>());
            }
            std::source_location where = caller_location();
            py::gil_scoped_release release;
            o.apply_gradients(vars, grads, where);
          },
          py::arg("grads_and_vars"), "Updates each variable with its gradient (TensorFlow's zip(grads, vars)).")
      .def_property_readonly("name", &optim::Optimizer::name)
      .def_property_readonly("iterations", &optim::Optimizer::iterations)
      .def_property_readonly("learning_rate", &optim::Optimizer::learning_rate)
      .def_property_readonly("store", py::overload_cast<>(&optim::Optimizer::store), py::return_value_policy::reference_internal)
      .def(
          "set_schedule", [](optim::Optimizer& o, py::handle schedule) { o.set_schedule(to_schedule(schedule)); },
          py::arg("schedule"),
          "Replaces the learning rate from the next update on: a number, a graft.optim.schedules schedule or a "
          "callable step -> lr.")
      .def("slots_of", &optim::Optimizer::slots_of, py::arg("variable"))
      .def("diagnose", &optim::Optimizer::diagnose, py::arg("trainable"), py::arg("min_updates") = 10,
           "One line per trainable variable never updated, or unchanged since its first update.");

  py::class_<optim::SGD, optim::Optimizer, std::shared_ptr<optim::SGD>>(optim, "SGD", R"doc(
SGD(learning_rate, *, schedule=None, momentum=0.0, nesterov=False, weight_decay=0.0, name="sgd").
learning_rate is a number, a graft.optim.schedules schedule or a callable
step -> lr; schedule= says the same by name (give one of the two).)doc")
      .def(py::init([](py::handle lr, py::handle schedule, double momentum, bool nesterov, double weight_decay,
                       std::string name) {
             return std::make_shared<optim::SGD>(optim::SGDOptions(0.0)
                                                     .schedule(resolve_schedule("SGD", lr, schedule, std::nullopt))
                                                     .momentum(momentum)
                                                     .nesterov(nesterov)
                                                     .weight_decay(weight_decay)
                                                     .name(std::move(name)));
           }),
           py::arg("learning_rate") = py::none(), py::kw_only(), py::arg("schedule") = py::none(),
           py::arg("momentum") = 0.0, py::arg("nesterov") = false, py::arg("weight_decay") = 0.0,
           py::arg("name") = "sgd");
  // Adam and AdamW share every option but the decay's default and kind.
  auto make_adam = [](const char* who, py::handle lr, py::handle schedule, double beta1, double beta2, double eps,
                      double weight_decay, bool decoupled, std::string name) {
    return std::make_shared<optim::Adam>(optim::AdamOptions()
                                             .schedule(resolve_schedule(who, lr, schedule, 1e-3))
                                             .betas(beta1, beta2)
                                             .eps(eps)
                                             .weight_decay(weight_decay)
                                             .decoupled(decoupled)
                                             .name(std::move(name)));
  };
  py::class_<optim::Adam, optim::Optimizer, std::shared_ptr<optim::Adam>>(optim, "Adam", R"doc(
Adam(learning_rate=1e-3, *, schedule=None, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.0, name="adam").
learning_rate is a number, a graft.optim.schedules schedule or a callable
step -> lr; schedule= says the same by name (give one of the two).)doc")
      .def(py::init([make_adam](py::handle lr, py::handle schedule, double beta1, double beta2, double eps,
                                double weight_decay, std::string name) {
             return make_adam("Adam", lr, schedule, beta1, beta2, eps, weight_decay, false, name);
           }),
           py::arg("learning_rate") = py::none(), py::kw_only(), py::arg("schedule") = py::none(),
           py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("epsilon") = 1e-8, py::arg("weight_decay") = 0.0,
           py::arg("name") = "adam");
  optim.def(
      "AdamW",
      [make_adam](py::handle lr, py::handle schedule, double weight_decay, double beta1, double beta2, double eps,
                  std::string name) {
        return make_adam("AdamW", lr, schedule, beta1, beta2, eps, weight_decay, true, name);
      },
      py::arg("learning_rate") = py::none(), py::kw_only(), py::arg("schedule") = py::none(),
      py::arg("weight_decay") = 0.01, py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("epsilon") = 1e-8,
      py::arg("name") = "adamw",
      "Adam with decoupled weight decay.");
}

edit::EditOptions edit_options(py::handle probe, double tolerance, OptimizerPtr optimizer, double noise, uint64_t seed,
                               const std::string& init) {
  GRAFT_CHECK(init == "duplicate" || init == "zero_fanout", "widen: init must be \"duplicate\" or \"zero_fanout\", got \"",
              init, "\"");
  edit::EditOptions options = edit::EditOptions()
                                  .tolerance(tolerance)
                                  .optimizer(optimizer.get())
                                  .noise(noise)
                                  .seed(seed)
                                  .init(init == "duplicate" ? edit::UnitInit::kDuplicate : edit::UnitInit::kZeroFanout);
  if (!probe.is_none()) options.probe(to_tensor(probe));
  return options;
}

void init_edit(py::module_& m) {
  py::module_ edit_module = m.def_submodule("edit", R"doc(
Architecture edits that preserve what the network computes, as transactions
over the model and its optimizer's slots. With a probe batch, f_new(probe) is
checked against f_old(probe); a failed check rolls the edit back and raises
graft.ValueError.)doc");
  py::class_<edit::EditReport>(edit_module, "EditReport")
      .def_readonly("description", &edit::EditReport::description)
      .def_readonly("parameters_before", &edit::EditReport::parameters_before)
      .def_readonly("parameters_after", &edit::EditReport::parameters_after)
      .def_readonly("created", &edit::EditReport::created)
      .def_readonly("retired", &edit::EditReport::retired)
      .def_readonly("max_difference", &edit::EditReport::max_difference)
      .def_readonly("verified", &edit::EditReport::verified)
      .def("__repr__", [](const edit::EditReport& r) { return r.description; });

  // Every edit takes the same keyword options; only the positional ones differ.
  auto with_units = [&](const char* name, edit::EditReport (*f)(nn::Sequential&, size_t, int64_t, const edit::EditOptions&),
                        const char* doc) {
    edit_module.def(
        name,
        [f](nn::Sequential& model, size_t index, int64_t units, py::handle probe, double tolerance,
            OptimizerPtr optimizer, double noise, uint64_t seed, const std::string& init) {
          edit::EditOptions options = edit_options(probe, tolerance, std::move(optimizer), noise, seed, init);
          py::gil_scoped_release release;
          return f(model, index, units, options);
        },
        py::arg("model"), py::arg("index"), py::arg("units"), py::kw_only(), py::arg("probe") = py::none(),
        py::arg("tolerance") = 1e-5, py::arg("optimizer") = nullptr, py::arg("noise") = 0.0, py::arg("seed") = 0,
        py::arg("init") = "duplicate", doc);
  };
  with_units("widen", &edit::widen, "Widens the layer at `index` to `units` units (Net2WiderNet).");
  with_units("prune", &edit::prune, "Keeps the `units` units of the layer at `index` with the largest outgoing weights.");
  edit_module.def(
      "deepen",
      [](nn::Sequential& model, size_t index, py::handle probe, double tolerance, OptimizerPtr optimizer) {
        edit::EditOptions options = edit_options(probe, tolerance, std::move(optimizer), 0.0, 0, "duplicate");
        py::gil_scoped_release release;
        return edit::deepen(model, index, options);
      },
      py::arg("model"), py::arg("index"), py::kw_only(), py::arg("probe") = py::none(), py::arg("tolerance") = 1e-5,
      py::arg("optimizer") = nullptr, "Inserts an identity-initialised layer after the layer at `index`.");
  edit_module.def("linear_positions", &edit::linear_positions, py::arg("model"),
                  "Positions of the Linear layers in the model, in order.");
}

// The stores behind a list of models, optimizers and stores.
std::vector<VariableStore*> stores_of(py::iterable objects) {
  std::vector<VariableStore*> stores;
  for (py::handle o : objects) {
    if (py::isinstance<nn::Module>(o)) {
      stores.push_back(&o.cast<nn::Module&>().store());
    } else if (py::isinstance<optim::Optimizer>(o)) {
      stores.push_back(&o.cast<optim::Optimizer&>().store());
    } else if (py::isinstance<VariableStore>(o)) {
      stores.push_back(&o.cast<VariableStore&>());
    } else {
      throw py::type_error("expected models, optimizers or variable stores, got " +
                           py::str(py::type::of(o).attr("__name__")).cast<std::string>());
    }
  }
  return stores;
}

void init_checkpoints(py::module_& m) {
  py::enum_<io::RestoreStatus>(m, "RestoreStatus")
      .value("MATCHED", io::RestoreStatus::kMatched)
      .value("MISSING", io::RestoreStatus::kMissing)
      .value("UNEXPECTED", io::RestoreStatus::kUnexpected)
      .value("SHAPE_MISMATCH", io::RestoreStatus::kShapeMismatch)
      .value("DTYPE_MISMATCH", io::RestoreStatus::kDTypeMismatch);
  py::class_<io::RestoreEntry>(m, "RestoreEntry")
      .def_readonly("status", &io::RestoreEntry::status)
      .def_readonly("key", &io::RestoreEntry::key)
      .def_readonly("target", &io::RestoreEntry::target)
      .def_readonly("file_shape", &io::RestoreEntry::file_shape)
      .def_readonly("target_shape", &io::RestoreEntry::target_shape)
      .def_readonly("detail", &io::RestoreEntry::detail);
  py::class_<io::CheckpointReport>(m, "CheckpointReport", "What happened to every key of a restored checkpoint.")
      .def_property_readonly("entries", [](const io::CheckpointReport& r) { return r.restore.entries; })
      .def_property_readonly("all_matched", [](const io::CheckpointReport& r) { return r.restore.all_matched(); })
      .def("count", [](const io::CheckpointReport& r, io::RestoreStatus s) { return r.restore.count(s); })
      .def_readonly("deferred", &io::CheckpointReport::deferred)
      .def_readonly("other_stores", &io::CheckpointReport::other_stores)
      .def_readonly("metadata", &io::CheckpointReport::metadata)
      .def("__str__", &io::CheckpointReport::to_string);

  m.def(
      "save_checkpoint",
      [](const std::string& path, py::iterable objects, const io::Metadata& metadata) {
        std::vector<VariableStore*> stores = stores_of(objects);
        std::vector<const VariableStore*> readonly(stores.begin(), stores.end());
        py::gil_scoped_release release;
        io::save_checkpoint(path, readonly, metadata);
      },
      py::arg("path"), py::arg("objects"), py::arg("metadata") = io::Metadata{},
      "Saves every live variable of the models, optimizers and stores to a safetensors file, atomically.");
  m.def(
      "restore_checkpoint",
      [](const std::string& path, py::iterable objects, bool strict, bool defer) {
        std::vector<VariableStore*> stores = stores_of(objects);
        py::gil_scoped_release release;
        return io::restore_checkpoint(path, stores, io::CheckpointOptions().strict(strict).defer(defer));
      },
      py::arg("path"), py::arg("objects"), py::kw_only(), py::arg("strict") = false, py::arg("defer") = true,
      "Restores by name and reports every key: matched, missing, unexpected, mismatched or deferred (waiting for "
      "a variable a lazily built model has not created yet). strict raises graft.IoError unless all match.");
}

void init_datasets(py::module_& m) {
  m.def(
      "load_fashion_mnist",
      [](const std::string& split, bool normalize, const std::string& data_dir) {
        GRAFT_CHECK(split == "train" || split == "test", "load_fashion_mnist: split must be \"train\" or \"test\", got \"",
                    split, "\"");
        io::Dataset data;
        {
          py::gil_scoped_release release;
          data = io::load_fashion_mnist(split == "train" ? io::Split::kTrain : io::Split::kTest,
                                        io::FashionMnistOptions().data_dir(data_dir).normalize(normalize));
        }
        return py::make_tuple(data.images.to_tensor(), data.labels);
      },
      py::arg("split") = "train", py::kw_only(), py::arg("normalize") = false,
      py::arg("data_dir") = io::kFashionMnistDir,
      "Fashion-MNIST from Debian's dataset-fashion-mnist: (images float32 [N, 784] in [0, 1], or normalised; "
      "labels int64 [N]). graft.IoError names a missing or malformed file.");
}

void init_growth_plan(py::module_& m) {
  py::class_<cli::GrowthEvent>(m, "GrowthEvent", "One event of a growth plan (`graft train --grow`).")
      .def_property_readonly("action",
                             [](const cli::GrowthEvent& e) -> std::string {
                               switch (e.action) {
                                 case cli::GrowthEvent::Action::kDeepen: return "deepen";
                                 case cli::GrowthEvent::Action::kWiden: return "widen";
                                 case cli::GrowthEvent::Action::kPrune: return "prune";
                               }
                               throw InternalError("GrowthEvent: invalid action");
                             })
      .def_readonly("units", &cli::GrowthEvent::units)
      .def_readonly("layer", &cli::GrowthEvent::layer)
      .def_readonly("at_step", &cli::GrowthEvent::at_step)
      .def_readonly("when", &cli::GrowthEvent::when)
      .def_readonly("text", &cli::GrowthEvent::text)
      .def("__repr__", &cli::GrowthEvent::describe);
  m.def("parse_growth_plan", &cli::parse_growth_plan, py::arg("text"),
        "Parses `graft train --grow`'s grammar: \"widen:512@3,deepen@7\" (ACTION[:UNITS][:LAYER]@EPOCH or @sSTEP).");
  m.def("validate_growth_plan", &cli::validate_growth_plan, py::arg("plan"), py::arg("hidden"), py::arg("epochs"),
        py::arg("total_steps"),
        "Checks the plan against hidden widths `hidden` before training, as `graft train` does; returns the "
        "widths after each event. graft.ValueError names the first event that cannot run.");
}

}  // namespace

void init_optim_edit_io(py::module_& m) {
  init_optim(m);
  init_edit(m);
  init_checkpoints(m);
  init_datasets(m);
  init_growth_plan(m);
}

}  // namespace graft::python
