// The graft._graft extension module: registers every area and maps graft's
// exception family onto Python exceptions.
#include <Python.h>

#include "bindings.h"

namespace graft::python {
namespace {

// graft's exceptions as Python classes. Each derives from graft.Error and
// from the built-in exception a Python user would catch for it, so
// `except ValueError` catches a shape error as it would from numpy.
struct ErrorClasses {
  PyObject* error = nullptr;
  PyObject* shape = nullptr;
  PyObject* dtype = nullptr;
  PyObject* not_found = nullptr;
  PyObject* value = nullptr;
  PyObject* io = nullptr;
  PyObject* internal = nullptr;
};
ErrorClasses g_errors;

PyObject* new_error(py::module_& m, const char* name, std::vector<PyObject*> bases, const char* doc) {
  py::tuple base_tuple(bases.size());
  for (size_t i = 0; i < bases.size(); ++i) base_tuple[i] = py::reinterpret_borrow<py::object>(bases[i]);
  std::string qualified = std::string("graft.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base_tuple.ptr(), nullptr);
  if (cls == nullptr) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));
  return cls;  // the module holds a reference for the life of the process
}

// The message without graft's "graft::Kind: " prefix (the Python class
// names the kind), context lines kept.
std::string python_message(const Error& e) {
  std::string text = e.what();
  std::string prefix = std::string(e.kind()) + ": ";
  if (text.compare(0, prefix.size(), prefix) == 0) text.erase(0, prefix.size());
  return text;
}

void set_error(PyObject* cls, const Error& e) { PyErr_SetString(cls, python_message(e).c_str()); }

// graft::warn goes to Python's warnings module as graft.GraftWarning, so
// filters, pytest.warns and `-W error` apply. A filter that turns it into an
// error raises from the graft call that warned.
class PythonWarnings : public WarningHandler {
 public:
  explicit PythonWarnings(PyObject* category) : category_(category) {}
  void on_warning(const Warning& warning) override {
    py::gil_scoped_acquire gil;
    if (PyErr_WarnEx(category_, warning.message.c_str(), 1) != 0) throw py::error_already_set();
  }

 private:
  PyObject* category_;
};

}  // namespace

void init_errors(py::module_& m) {
  g_errors.error = new_error(m, "Error", {PyExc_Exception}, "The base of every graft error.");
  g_errors.shape = new_error(m, "ShapeError", {g_errors.error, PyExc_ValueError},
                             "A wrong shape or rank, an incompatible broadcast, a bad axis.");
  g_errors.dtype = new_error(m, "DTypeError", {g_errors.error, PyExc_TypeError}, "Wrong or mixed dtypes.");
  g_errors.not_found = new_error(m, "NotFoundError", {g_errors.error, PyExc_LookupError},
                                 "A variable, key, file or op that does not exist.");
  g_errors.value = new_error(m, "ValueError", {g_errors.error, PyExc_ValueError},
                             "A bad argument or a call in the wrong state.");
  g_errors.io = new_error(m, "IoError", {g_errors.error, PyExc_OSError},
                          "Reading or writing a file failed, or a file is malformed.");
  g_errors.internal = new_error(m, "InternalError", {g_errors.error, PyExc_RuntimeError},
                                "A bug in graft itself; please report it.");
  PyObject* warning = new_error(m, "GraftWarning", {PyExc_UserWarning},
                                "What graft warns about: a creation site re-creating variables, a function that "
                                "keeps recapturing, a deferred restore that did not match.");
  static PythonWarnings handler(warning);  // lives as long as the process, as the module does
  set_warning_handler(&handler);
  // Most derived first: every graft error reaches Python as its own class.
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const ShapeError& e) {
      set_error(g_errors.shape, e);
    } catch (const DTypeError& e) {
      set_error(g_errors.dtype, e);
    } catch (const NotFoundError& e) {
      set_error(g_errors.not_found, e);
    } catch (const ValueError& e) {
      set_error(g_errors.value, e);
    } catch (const IoError& e) {
      set_error(g_errors.io, e);
    } catch (const InternalError& e) {
      set_error(g_errors.internal, e);
    } catch (const Error& e) {
      set_error(g_errors.error, e);
    }
  });
}

}  // namespace graft::python

PYBIND11_MODULE(_graft, m) {
  namespace gp = graft::python;
  m.doc() = "graft: a deep-learning library for models that change while they train (C++ core).";
  gp::check_location_support();
  m.attr("__version__") = GRAFT_VERSION_STRING;
  m.def("_set_internal_dir", &gp::set_internal_dir,
        "Frames from files under this folder are not reported as creation sites.");
  gp::init_errors(m);
  gp::init_tensor(m);
  gp::init_ops(m);
  gp::init_vars(m);
  gp::init_nn(m);
  gp::init_rnn(m);
  gp::init_optim_edit_io(m);
  gp::init_function(m);
}
