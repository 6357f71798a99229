// graft.optim.schedules: learning rate as a function of the step
// (graft/optim/schedule.h), for the optimizers' learning_rate= or schedule=.
//
//   s = graft.optim.schedules.warmup(100, graft.optim.schedules.cosine(1e-3, 10_000))
//   opt = graft.optim.Adam(schedule=s)          # or Adam(s), as Keras takes it
//   opt = graft.optim.SGD(lambda step: 0.1 * 0.9 ** step)   # any Python callable
//
// The optimizer evaluates its schedule on the host before every update, also
// inside a compiled step's replay, which runs without the GIL: a Python
// callable takes the GIL for each call, and the reference to it is released
// under the GIL wherever the last copy of the schedule goes.
#include <cmath>

#include "bindings.h"

namespace graft::python {
namespace {

// A ready-made schedule and how it was made, for repr().
struct Schedule {
  optim::LearningRateSchedule fn;
  std::string description;
};

std::string number(double x) { return py::repr(py::float_(x)).cast<std::string>(); }

// A Python callable as a schedule. Copies share one reference, dropped with
// the GIL held (the last copy may go on a thread that does not hold it).
optim::LearningRateSchedule from_callable(py::handle callable) {
  std::shared_ptr<py::object> fn(new py::object(py::reinterpret_borrow<py::object>(callable)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
  return [fn](int64_t step) {
    py::gil_scoped_acquire gil;
    py::object lr = (*fn)(step);
    if (!py::isinstance<py::float_>(lr) && !py::isinstance<py::int_>(lr) &&
        !py::hasattr(lr, "__float__")) {
      std::string type = py::str(py::type::of(lr).attr("__name__"));
      throw ValueError("learning-rate schedule " + py::repr(*fn).cast<std::string>() + ": expected a number for step " +
                       std::to_string(step) + ", got " + type +
                       "\n  help: return the learning rate as a float, e.g. lambda step: 0.1 * 0.9 ** step");
    }
    double value = lr.cast<double>();
    GRAFT_CHECK(std::isfinite(value) && value >= 0, "learning-rate schedule ", py::repr(*fn).cast<std::string>(),
                ": expected a finite learning rate >= 0 for step ", step, ", got ", value);
    return value;
  };
}

}  // namespace

optim::LearningRateSchedule to_schedule(py::handle obj) {
  if (py::isinstance<Schedule>(obj)) return obj.cast<const Schedule&>().fn;
  if (py::isinstance<py::float_>(obj) || py::isinstance<py::int_>(obj)) {
    return optim::schedule::constant(obj.cast<double>());
  }
  if (PyCallable_Check(obj.ptr())) return from_callable(obj);
  throw py::type_error("learning rate: expected a number, a graft.optim.schedules schedule or a callable step -> lr, "
                       "got " + py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
}

optim::LearningRateSchedule resolve_schedule(const char* optimizer, py::handle learning_rate, py::handle schedule,
                                             std::optional<double> default_lr) {
  if (!learning_rate.is_none() && !schedule.is_none()) {
    throw ValueError(std::string(optimizer) + ": got both learning_rate and schedule\n  help: pass one of them; "
                     "learning_rate also takes a schedule");
  }
  if (!schedule.is_none()) return to_schedule(schedule);
  if (!learning_rate.is_none()) return to_schedule(learning_rate);
  GRAFT_CHECK(default_lr.has_value(), optimizer, ": expected a learning_rate or a schedule, got neither",
              "\n  help: e.g. ", optimizer, "(0.1) or ", optimizer,
              "(schedule=graft.optim.schedules.cosine(0.1, 1000))");
  return optim::schedule::constant(*default_lr);
}

void init_schedules(py::module_& optim_module) {
  py::module_ s = optim_module.def_submodule("schedules", R"doc(
Learning-rate schedules: the rate as a function of the optimizer's step count
(0 for the first update). Pass one as an optimizer's learning_rate or
schedule; a Python callable step -> lr works as well. step_decay(lr, 1, gamma)
is exponential decay.)doc");
  py::class_<Schedule>(s, "Schedule", "A learning rate as a function of the step; call it with a step to read it.")
      .def("__call__", [](const Schedule& self, int64_t step) { return self.fn(step); }, py::arg("step"))
      .def("__repr__", [](const Schedule& self) { return self.description; });
  const std::string prefix = "graft.optim.schedules.";
  s.def(
      "constant",
      [prefix](double lr) { return Schedule{optim::schedule::constant(lr), prefix + "constant(" + number(lr) + ")"}; },
      py::arg("learning_rate"), "learning_rate at every step.");
  s.def(
      "step_decay",
      [prefix](double lr, int64_t every, double gamma) {
        return Schedule{optim::schedule::step_decay(lr, every, gamma),
                        prefix + "step_decay(" + number(lr) + ", every=" + std::to_string(every) + ", gamma=" +
                            number(gamma) + ")"};
      },
      py::arg("learning_rate"), py::arg("every"), py::arg("gamma"),
      "learning_rate * gamma ** (step // every) (PyTorch's StepLR).");
  s.def(
      "cosine",
      [prefix](double lr, int64_t total_steps, double min_lr) {
        return Schedule{optim::schedule::cosine(lr, total_steps, min_lr),
                        prefix + "cosine(" + number(lr) + ", total_steps=" + std::to_string(total_steps) +
                            ", min_lr=" + number(min_lr) + ")"};
      },
      py::arg("learning_rate"), py::arg("total_steps"), py::arg("min_lr") = 0.0,
      "From learning_rate down to min_lr over total_steps along half a cosine, then min_lr.");
  s.def(
      "warmup",
      [prefix](int64_t warmup_steps, py::handle after) {
        return Schedule{optim::schedule::warmup(warmup_steps, to_schedule(after)),
                        prefix + "warmup(" + std::to_string(warmup_steps) + ", " + py::repr(after).cast<std::string>() +
                            ")"};
      },
      py::arg("warmup_steps"), py::arg("after"),
      "Linear from 0 to after(warmup_steps) over the first warmup_steps, then `after` (a schedule, a number or a "
      "callable).");
}

}  // namespace graft::python
