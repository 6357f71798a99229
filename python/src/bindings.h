// python/src/bindings.h: what the binding files of the graft Python module
// share. Each area registers itself from module.cc through one init_*
// function, so the slow pybind11 translation units compile apart.
//
// Conventions every binding follows:
// - graft errors cross into Python through the translator in module.cc
//   (graft.ShapeError is a ValueError, graft.DTypeError a TypeError, ...);
//   nothing here catches them.
// - Calls that create variables or modules pass caller_location(), so
//   creation sites, audit reports and error messages name the user's
//   Python file:line, never a line of these files.
// - Long-running calls (matmul, a compiled step, fit, checkpoints, edits)
//   release the GIL; graft's thread-local state (tapes, scopes, captures)
//   stays on the calling thread, which keeps running them.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <source_location>
#include <string>
#include <vector>

#include "graft/graft.h"

namespace graft::python {

namespace py = pybind11;

// The innermost Python frame outside the graft package, as a
// source_location (file, line, function) that stays valid for the life of the
// process; the C++ caller's own location when no Python frame is running.
std::source_location caller_location(std::source_location fallback = std::source_location::current());
// Frames from files under `dir` (the package's own Python files: fit,
// helpers) are skipped by caller_location.
void set_internal_dir(std::string dir);
// Throws ImportError unless graft can build a source_location from a Python
// frame on this standard library (checked once at import).
void check_location_support();

// Converts a tensor-like Python object: a graft.Tensor (shared), a
// graft.Variable (its value, watched by active tapes), a numpy array
// (borrowed when it is C-contiguous, aligned, writable float32/float64/int64,
// copied otherwise), a Python list or number (copied; floats become float32,
// as in torch.tensor). `dtype`, when given, converts first. TypeError for
// anything else.
Tensor to_tensor(py::handle obj, std::optional<DType> dtype = std::nullopt);
// For a binary op: a Python number becomes a scalar of `like`'s dtype.
Tensor to_tensor_like(py::handle obj, const Tensor& like);
// A list of shape dimensions from a tuple, list or int.
Shape to_shape(py::handle obj);
// A tuple of a shape's dimensions.
py::tuple shape_tuple(const Shape& shape);

// A learning rate from Python: a number (constant), a graft.optim.schedules
// schedule, or a callable step -> lr (called with the GIL taken, from any
// thread). TypeError for anything else.
optim::LearningRateSchedule to_schedule(py::handle obj);
// An optimizer's schedule from its learning_rate= and schedule= arguments
// (at most one of them not None), else `default_lr`; graft.ValueError for
// both, or for neither without a default.
optim::LearningRateSchedule resolve_schedule(const char* optimizer, py::handle learning_rate, py::handle schedule,
                                             std::optional<double> default_lr);

void init_errors(py::module_& m);
void init_tensor(py::module_& m);
void init_ops(py::module_& m);
void init_vars(py::module_& m);
void init_nn(py::module_& m);
// LSTMCell, LSTM and their states into graft.nn (after init_nn).
void init_rnn(py::module_& m);
void init_optim_edit_io(py::module_& m);
// graft.optim.schedules (from init_optim_edit_io).
void init_schedules(py::module_& optim_module);
void init_function(py::module_& m);

}  // namespace graft::python
