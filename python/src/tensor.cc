// graft.Tensor, graft.tensor() and the dtypes: tensors to and from numpy.
//
// numpy.asarray(t) is a zero-copy view through the buffer protocol; the view
// keeps the graft.Tensor object (and so its buffer) alive. graft.tensor(a)
// borrows a numpy array when graft can use its memory as it is (C-contiguous,
// aligned, writable, float32/float64/int64): the tensor's storage then holds a
// reference to the array. Anything else is copied.
#include <cstdint>
#include <cstring>

#include "bindings.h"

namespace graft::python {
namespace {

// A tensor buffer that is a numpy array's memory; the array lives as long as
// the storage does. Released under the GIL, from whichever thread drops the
// last handle.
class NumpyStorage : public Storage {
 public:
  explicit NumpyStorage(py::array array)
      : Storage(Borrowed{}, array.mutable_data(), static_cast<size_t>(array.nbytes())), array_(std::move(array)) {}
  ~NumpyStorage() {
    // After the interpreter has finished (a tensor held by a C++ static),
    // the array's memory is Python's to reclaim: leave the reference.
    if (!Py_IsInitialized()) {
      array_.release();
      return;
    }
    py::gil_scoped_acquire gil;
    array_ = py::array();
  }

 private:
  py::array array_;
};

std::optional<DType> dtype_of_numpy(const py::dtype& d) {
  if (d.is(py::dtype::of<float>())) return DType::kFloat32;
  if (d.is(py::dtype::of<double>())) return DType::kFloat64;
  if (d.is(py::dtype::of<int64_t>())) return DType::kInt64;
  // dtype objects are not always the cached singletons: compare by value.
  if (d.equal(py::dtype::of<float>())) return DType::kFloat32;
  if (d.equal(py::dtype::of<double>())) return DType::kFloat64;
  if (d.equal(py::dtype::of<int64_t>())) return DType::kInt64;
  return std::nullopt;
}

py::dtype numpy_dtype(DType d) {
  switch (d) {
    case DType::kFloat32: return py::dtype::of<float>();
    case DType::kFloat64: return py::dtype::of<double>();
    case DType::kInt64: return py::dtype::of<int64_t>();
    case DType::kCount: break;
  }
  throw_invalid_dtype(d, "numpy_dtype");
}

// The graft dtype an array of another dtype is copied into: integers and
// booleans to int64, floats to float32 up to 4 bytes and float64 above.
DType copy_target(const py::dtype& d) {
  char kind = d.kind();
  if (kind == 'i' || kind == 'u' || kind == 'b') return DType::kInt64;
  if (kind == 'f') return d.itemsize() <= 4 ? DType::kFloat32 : DType::kFloat64;
  throw py::type_error("graft.tensor: expected an array of numbers (float32, float64 or int64; other integer and "
                       "float types are copied), got dtype " +
                       py::str(static_cast<py::object>(d)).cast<std::string>() +
                       "\n  help: convert it first, for example with a.astype(numpy.float32)");
}

Shape shape_of(const py::array& a) {
  GRAFT_CHECK_AS(ShapeError, a.ndim() <= kMaxRank, "graft.tensor: a graft tensor has at most ", kMaxRank,
                 " dimensions, the array has ", a.ndim());
  std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
  return Shape(std::span<const int64_t>(dims));
}

bool borrowable(const py::array& a) {
  int flags = py::detail::array_proxy(a.ptr())->flags;
  constexpr int kNeeded = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | py::detail::npy_api::NPY_ARRAY_ALIGNED_ |
                          py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return (flags & kNeeded) == kNeeded;
}

Tensor from_array(py::array a, std::optional<DType> dtype) {
  std::optional<DType> own = dtype_of_numpy(a.dtype());
  DType target = dtype ? *dtype : (own ? *own : copy_target(a.dtype()));
  Shape shape = shape_of(a);
  if (own == target && borrowable(a)) {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<NumpyStorage>(std::move(a));
    impl->shape = shape;
    impl->dtype = target;
    impl->id = next_tensor_id();
    return Tensor(std::move(impl));
  }
  // A C-contiguous copy in the target dtype, written straight into the tensor.
  Tensor t = Tensor::empty(shape, target);
  py::array view(numpy_dtype(target), std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()),
                 static_cast<void*>(t.raw_data()), py::none());
  py::object copyto = py::module_::import("numpy").attr("copyto");
  copyto(view, a, py::arg("casting") = "unsafe");
  return t;
}

Tensor from_python_scalar(py::handle obj, std::optional<DType> dtype) {
  if (py::isinstance<py::bool_>(obj) || py::isinstance<py::int_>(obj)) {
    DType d = dtype.value_or(DType::kInt64);
    return full(Shape{}, obj.cast<double>(), d);
  }
  return full(Shape{}, obj.cast<double>(), dtype.value_or(DType::kFloat32));
}

// The buffer protocol, checked: pybind11's own getbuffer cannot report an
// error (an exception there would terminate the process), so a symbolic or
// undefined tensor is refused here with a Python error first.
getbufferproc g_pybind11_getbuffer = nullptr;

int checked_getbuffer(PyObject* obj, Py_buffer* view, int flags) {
  try {
    const Tensor& t = py::cast<const Tensor&>(py::handle(obj));
    if (!t.defined()) throw ValueError("this graft.Tensor is undefined: it holds no value to view");
    (void)t.raw_data();  // throws ValueError for a symbolic tensor, with graft's message
  } catch (...) {
    if (view != nullptr) view->obj = nullptr;
    try {
      throw;
    } catch (const Error& e) {
      PyErr_SetString(PyExc_BufferError, e.what());
    } catch (const std::exception& e) {
      PyErr_SetString(PyExc_BufferError, e.what());
    }
    return -1;
  }
  return g_pybind11_getbuffer(obj, view, flags);
}

}  // namespace

Shape to_shape(py::handle obj) {
  if (py::isinstance<py::int_>(obj)) return Shape{obj.cast<int64_t>()};
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj)) {
    throw py::type_error("expected a shape (a tuple or list of ints), got " +
                         py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  }
  auto dims = obj.cast<std::vector<int64_t>>();
  return Shape(std::span<const int64_t>(dims));
}

py::tuple shape_tuple(const Shape& shape) {
  py::tuple out(shape.rank());
  for (int i = 0; i < shape.rank(); ++i) out[i] = shape[i];
  return out;
}

Tensor to_tensor(py::handle obj, std::optional<DType> dtype) {
  Tensor t;
  if (py::isinstance<Tensor>(obj)) {
    t = obj.cast<Tensor>();
  } else if (py::isinstance<Variable>(obj)) {
    t = obj.cast<const Variable&>().value();
  } else if (py::isinstance<py::array>(obj)) {
    return from_array(py::reinterpret_borrow<py::array>(obj), dtype);
  } else if (py::isinstance<py::bool_>(obj) || py::isinstance<py::int_>(obj) || py::isinstance<py::float_>(obj)) {
    return from_python_scalar(obj, dtype);
  } else if (py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj)) {
    py::array a = py::module_::import("numpy").attr("asarray")(obj);
    // torch.tensor's rule: Python floats make float32 unless asked otherwise.
    if (!dtype && a.dtype().kind() == 'f') dtype = DType::kFloat32;
    return from_array(std::move(a), dtype);
  } else {
    throw py::type_error("expected a graft.Tensor, a graft.Variable, a numpy array, a list or a number, got " +
                         py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  }
  return dtype && *dtype != t.dtype() ? cast(t, *dtype) : t;
}

Tensor to_tensor_like(py::handle obj, const Tensor& like) {
  if (py::isinstance<py::float_>(obj) || py::isinstance<py::int_>(obj)) {
    return scalar_like(obj.cast<double>(), like);
  }
  return to_tensor(obj);
}

void init_tensor(py::module_& m) {
  py::enum_<DType>(m, "DType")
      .value("float32", DType::kFloat32)
      .value("float64", DType::kFloat64)
      .value("int64", DType::kInt64)
      .def("__str__", [](DType d) { return std::string(dtype_name(d)); });
  m.attr("float32") = DType::kFloat32;
  m.attr("float64") = DType::kFloat64;
  m.attr("int64") = DType::kInt64;

  py::class_<Tensor> tensor(m, "Tensor", py::buffer_protocol(), R"doc(
A dense, row-major tensor with shared, ref-counted storage.

numpy.asarray(t) views its buffer without copying (the view keeps the tensor
alive). Made by graft.tensor(), the creation functions and the ops.
Inside graft.function's capture a tensor is symbolic: it has a shape and a
dtype but no values until the graph runs.)doc");
  tensor.def(py::init([](py::handle obj, std::optional<DType> dtype) { return to_tensor(obj, dtype); }),
             py::arg("data"), py::arg("dtype") = py::none())
      .def_buffer([](const Tensor& t) {
        std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
        std::vector<py::ssize_t> strides;
        const py::ssize_t item = static_cast<py::ssize_t>(dtype_size(t.dtype()));
        for (int64_t s : t.shape().strides()) strides.push_back(static_cast<py::ssize_t>(s) * item);
        std::string format = visit_dtype(t.dtype(), []<typename T>(T) { return py::format_descriptor<T>::format(); });
        return py::buffer_info(t.raw_data(), item, format, t.rank(), shape, strides);
      })
      .def_property_readonly("shape", [](const Tensor& t) { return shape_tuple(t.shape()); })
      .def_property_readonly("dtype", &Tensor::dtype)
      .def_property_readonly("ndim", &Tensor::rank)
      .def_property_readonly("size", &Tensor::numel)
      .def_property_readonly("id", &Tensor::id)
      .def_property_readonly("is_symbolic", &Tensor::is_symbolic)
      .def("__len__",
           [](const Tensor& t) {
             GRAFT_CHECK_AS(ShapeError, t.rank() > 0, "len() of a 0-d tensor");
             return t.dim(0);
           })
      // numpy falls back to __array__ when the buffer protocol fails; going
      // through memoryview raises the buffer's error (a symbolic tensor)
      // instead of making an object array.
      .def("__array__",
           [](py::object self, py::object dtype) {
             py::object array = py::module_::import("numpy").attr("asarray")(py::memoryview(self));
             return dtype.is_none() ? array : array.attr("astype")(dtype);
           },
           py::arg("dtype") = py::none())
      .def("numpy", [](py::object self) { return py::module_::import("numpy").attr("asarray")(self); },
           "A numpy view of the tensor's buffer (no copy).")
      .def("item", [](const Tensor& t) -> py::object {
        if (t.dtype() == DType::kInt64) return py::int_(t.item<int64_t>());
        return py::float_(t.item<double>());
      })
      .def("tolist", [](py::object self) { return py::module_::import("numpy").attr("asarray")(self).attr("tolist")(); })
      .def("clone", &Tensor::clone)
      .def("__float__", [](const Tensor& t) { return t.item<double>(); })
      .def("__int__", [](const Tensor& t) { return t.item<int64_t>(); })
      .def("__repr__", [](const Tensor& t) { return t.defined() ? t.to_string() : std::string("Tensor(undefined)"); });
  // Route buffer requests through the check above.
  auto* type = reinterpret_cast<PyTypeObject*>(tensor.ptr());
  g_pybind11_getbuffer = type->tp_as_buffer->bf_getbuffer;
  type->tp_as_buffer->bf_getbuffer = checked_getbuffer;

  m.def("tensor", [](py::handle data, std::optional<DType> dtype) { return to_tensor(data, dtype); },
        py::arg("data"), py::arg("dtype") = py::none(), R"doc(
A graft.Tensor from a numpy array, a list, a number or another tensor.

A C-contiguous, aligned, writable numpy array of float32, float64 or int64
(and the requested dtype, if any) is borrowed: the tensor uses the array's
memory and keeps the array alive, so writes through either are seen by both
(graft never writes into it; writes through numpy are not versioned, so do
not change an array a live tape has read).
Anything else is copied: other integer types to int64, other floats to
float32 or float64, Python lists of floats to float32.)doc");
}

}  // namespace graft::python
