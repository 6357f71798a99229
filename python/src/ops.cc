// The ops as graft.<op>(...) and as operators on graft.Tensor and
// graft.Variable. Every argument that takes a tensor takes anything
// to_tensor() accepts (a Variable is read, so tapes watch it); a Python number
// beside a tensor takes that tensor's dtype, as in C++.
#include <algorithm>

#include "bindings.h"

namespace graft::python {
namespace {

using Binary = Tensor (*)(const Tensor&, const Tensor&);
using Unary = Tensor (*)(const Tensor&);

// Both operands of a binary op as tensors; a number takes the other's dtype.
std::pair<Tensor, Tensor> operands(py::handle a, py::handle b) {
  bool a_number = py::isinstance<py::float_>(a) || py::isinstance<py::int_>(a);
  if (a_number) {
    Tensor tb = to_tensor(b);
    return {to_tensor_like(a, tb), tb};
  }
  Tensor ta = to_tensor(a);
  return {ta, to_tensor_like(b, ta)};
}

Dims to_axes(py::handle axis) {
  Dims axes;
  if (axis.is_none()) return axes;
  if (py::isinstance<py::int_>(axis)) {
    axes.push_back(axis.cast<int64_t>());
    return axes;
  }
  for (py::handle a : axis) axes.push_back(a.cast<int64_t>());
  return axes;
}

Dims to_dims(py::handle seq) {
  Dims dims;
  for (py::handle d : seq) dims.push_back(d.cast<int64_t>());
  return dims;
}

// t[key] for ints and unit-step slices (a tuple of them, one per leading
// axis): a graft slice (gradients flow through it), reshaped to drop the axes
// an int picked. What NumPy would do with anything else differs enough that
// it is refused with what to use instead.
Tensor index(const Tensor& t, py::handle key) {
  std::vector<py::handle> parts;
  if (py::isinstance<py::tuple>(key)) {
    for (py::handle part : key) parts.push_back(part);
  } else {
    parts.push_back(key);
  }
  if (static_cast<int>(parts.size()) > t.rank()) {
    throw py::index_error("too many indices: " + std::to_string(parts.size()) + " for a tensor of rank " +
                          std::to_string(t.rank()));
  }
  Dims begin, end;
  std::vector<int64_t> kept;
  bool dropped = false;
  for (int axis = 0; axis < t.rank(); ++axis) {
    const int64_t dim = t.shape()[axis];
    if (axis >= static_cast<int>(parts.size())) {
      begin.push_back(0);
      end.push_back(dim);
      kept.push_back(dim);
      continue;
    }
    py::handle part = parts[axis];
    if (py::isinstance<py::int_>(part)) {
      int64_t i = part.cast<int64_t>();
      int64_t at = i < 0 ? i + dim : i;
      if (at < 0 || at >= dim) {
        throw py::index_error("index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) +
                              " of size " + std::to_string(dim));
      }
      begin.push_back(at);
      end.push_back(at + 1);
      dropped = true;
    } else if (py::isinstance<py::slice>(part)) {
      Py_ssize_t start = 0, stop = 0, step = 0;
      if (PySlice_Unpack(part.ptr(), &start, &stop, &step) != 0) throw py::error_already_set();
      PySlice_AdjustIndices(static_cast<Py_ssize_t>(dim), &start, &stop, step);
      GRAFT_CHECK(step == 1, "tensor indexing: slices with step 1 only, got step ", step, " on axis ", axis,
                  "\n  help: take numpy.asarray(t) for strided views, or graft.gather for picked rows");
      begin.push_back(start);
      end.push_back(std::max<int64_t>(start, stop));
      kept.push_back(std::max<int64_t>(0, stop - start));
    } else {
      throw py::type_error("tensor indexing takes ints and slices (a tuple of them, one per axis), got " +
                           py::str(py::type::of(part).attr("__name__")).cast<std::string>() +
                           "\n  help: use graft.gather for a list or tensor of indices");
    }
  }
  Tensor out = slice(t, begin, end);
  return dropped ? reshape(out, Shape(std::span<const int64_t>(kept))) : out;
}

template <typename Class>
void add_operators(Class& cls) {
  auto bin = [](Binary f) {
    return [f](py::handle a, py::handle b) {
      auto [x, y] = operands(a, b);
      return f(x, y);
    };
  };
  auto rbin = [](Binary f) {
    return [f](py::handle a, py::handle b) {
      auto [y, x] = operands(b, a);
      return f(y, x);
    };
  };
  cls.def("__add__", bin(&add), py::is_operator())
      .def("__radd__", rbin(&add), py::is_operator())
      .def("__sub__", bin(&sub), py::is_operator())
      .def("__rsub__", rbin(&sub), py::is_operator())
      .def("__mul__", bin(&mul), py::is_operator())
      .def("__rmul__", rbin(&mul), py::is_operator())
      .def("__truediv__", bin(&div), py::is_operator())
      .def("__rtruediv__", rbin(&div), py::is_operator())
      .def("__pow__", bin(&pow), py::is_operator())
      .def("__rpow__", rbin(&pow), py::is_operator())
      .def("__lt__", bin(&less), py::is_operator())
      .def("__le__", bin(&less_equal), py::is_operator())
      .def("__gt__", bin(&greater), py::is_operator())
      .def("__ge__", bin(&greater_equal), py::is_operator())
      .def("__matmul__", [](py::handle a, py::handle b) { return matmul(to_tensor(a), to_tensor(b)); },
           py::is_operator())
      .def("__rmatmul__", [](py::handle a, py::handle b) { return matmul(to_tensor(b), to_tensor(a)); },
           py::is_operator())
      .def("__getitem__", [](py::handle self, py::handle key) { return index(to_tensor(self), key); })
      .def("__bool__",
           [](py::handle self) {
             Tensor t = to_tensor(self);
             GRAFT_CHECK(t.numel() == 1, "the truth value of a tensor of shape ", t.shape().to_string(),
                         " is ambiguous\n  help: reduce it first (graft.max, graft.sum) or compare its numpy() values");
             return t.item<double>() != 0.0;
           })
      .def("__neg__", [](py::handle a) { return neg(to_tensor(a)); })
      .def("__abs__", [](py::handle a) { return abs(to_tensor(a)); });
}

}  // namespace

void init_ops(py::module_& m) {
  auto tensor_class = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));
  add_operators(tensor_class);
  tensor_class.def_property_readonly("T", [](const Tensor& t) { return transpose(t); });
  // == and != compare elementwise, as NumPy and PyTorch do; anything that is
  // not tensor-like compares by identity (t == None is False). Hashing stays
  // by identity, so tensors remain usable as dictionary keys.
  auto compare = [](Binary f) {
    return [f](py::handle a, py::handle b) -> py::object {
      bool tensor_like = py::isinstance<Tensor>(b) || py::isinstance<Variable>(b) || py::isinstance<py::array>(b) ||
                         py::isinstance<py::float_>(b) || py::isinstance<py::int_>(b);
      if (!tensor_like) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
      auto [x, y] = operands(a, b);
      return py::cast(f(x, y));
    };
  };
  tensor_class.def("__eq__", compare(&equal), py::is_operator())
      .def("__ne__", compare(&not_equal), py::is_operator())
      .def("__hash__", [](const Tensor& t) { return std::hash<const void*>()(t.impl()); });

  auto def_binary = [&](const char* name, Binary f, const char* doc) {
    m.def(
        name,
        [f](py::handle a, py::handle b) {
          auto [x, y] = operands(a, b);
          return f(x, y);
        },
        py::arg("a"), py::arg("b"), doc);
  };
  def_binary("add", &add, "a + b, broadcasting.");
  def_binary("subtract", &sub, "a - b, broadcasting.");
  def_binary("multiply", &mul, "a * b, broadcasting.");
  def_binary("divide", &div, "a / b, broadcasting.");
  def_binary("pow", &pow, "a ** b, broadcasting.");
  def_binary("maximum", &maximum, "The larger of a and b, elementwise.");
  def_binary("minimum", &minimum, "The smaller of a and b, elementwise.");
  def_binary("equal", &equal, "1 where a == b, else 0, in the inputs' dtype.");
  def_binary("not_equal", &not_equal, "1 where a != b, else 0.");
  def_binary("less", &less, "1 where a < b, else 0.");
  def_binary("greater", &greater, "1 where a > b, else 0.");
  def_binary("mse_loss", &mse_loss, "mean((prediction - target)^2) over every element.");

  auto def_unary = [&](const char* name, Unary f) {
    m.def(name, [f](py::handle x) { return f(to_tensor(x)); }, py::arg("x"));
  };
  def_unary("negative", &neg);
  def_unary("exp", &exp);
  def_unary("log", &log);
  def_unary("sqrt", &sqrt);
  def_unary("tanh", &tanh);
  def_unary("sigmoid", &sigmoid);
  def_unary("relu", &relu);
  def_unary("abs", &abs);
  def_unary("square", &square);
  def_unary("sign", &sign);
  def_unary("stop_gradient", &stop_gradient);
  def_unary("transpose", &transpose);

  // The matrix product runs in BLAS without the GIL.
  m.def(
      "matmul",
      [](py::handle a, py::handle b, bool transpose_a, bool transpose_b) {
        Tensor x = to_tensor(a), y = to_tensor(b);
        py::gil_scoped_release release;
        return matmul(x, y, MatmulOptions().transpose_a(transpose_a).transpose_b(transpose_b));
      },
      py::arg("a"), py::arg("b"), py::kw_only(), py::arg("transpose_a") = false, py::arg("transpose_b") = false,
      "Matrix product (BLAS): rank 2 x rank 2, batched, or rank >= 3 x rank 2.");

  using Reduce = Tensor (*)(const Tensor&, const Dims&, const ReduceOptions&);
  auto def_reduce = [&](const char* name, Reduce f, const char* doc) {
    m.def(
        name,
        [f](py::handle x, py::handle axis, bool keepdims) {
          return f(to_tensor(x), to_axes(axis), ReduceOptions().keepdims(keepdims));
        },
        py::arg("x"), py::arg("axis") = py::none(), py::kw_only(), py::arg("keepdims") = false, doc);
  };
  def_reduce("sum", &sum, "The sum over `axis` (an int, a tuple, or None for every axis).");
  def_reduce("mean", &mean, "The mean over `axis` (an int, a tuple, or None for every axis).");
  def_reduce("max", &max, "The maximum over `axis` (an int, a tuple, or None for every axis).");

  m.def("cast", [](py::handle x, DType dtype) { return cast(to_tensor(x), dtype); }, py::arg("x"), py::arg("dtype"));
  m.def("reshape", [](py::handle x, py::handle shape) { return reshape(to_tensor(x), to_shape(shape)); },
        py::arg("x"), py::arg("shape"), "The same values in another shape; one dimension may be -1.");
  m.def("permute", [](py::handle x, py::handle perm) { return permute(to_tensor(x), to_dims(perm)); },
        py::arg("x"), py::arg("perm"));
  m.def("flatten", [](py::handle x, int64_t start_dim) { return flatten(to_tensor(x), start_dim); }, py::arg("x"),
        py::arg("start_dim") = 1);
  m.def(
      "concat",
      [](py::iterable xs, int64_t axis) {
        std::vector<Tensor> tensors;
        for (py::handle x : xs) tensors.push_back(to_tensor(x));
        return concat(tensors, axis);
      },
      py::arg("tensors"), py::arg("axis") = 0);
  m.def("slice", [](py::handle x, py::handle begin, py::handle end) {
        return slice(to_tensor(x), to_dims(begin), to_dims(end));
      }, py::arg("x"), py::arg("begin"), py::arg("end"));
  m.def("where", [](py::handle c, py::handle a, py::handle b) {
        auto [x, y] = operands(a, b);
        return where(to_tensor_like(c, x), x, y);
      }, py::arg("condition"), py::arg("a"), py::arg("b"));
  m.def("gather", [](py::handle x, py::handle indices, int64_t axis) {
        return gather(to_tensor(x), to_tensor(indices), axis);
      }, py::arg("x"), py::arg("indices"), py::arg("axis") = 0);
  m.def("one_hot", [](py::handle indices, int64_t depth, DType dtype) {
        return one_hot(to_tensor(indices), depth, dtype);
      }, py::arg("indices"), py::arg("depth"), py::arg("dtype") = DType::kFloat32);
  m.def("softmax", [](py::handle x, int64_t axis) { return softmax(to_tensor(x), axis); }, py::arg("x"),
        py::arg("axis") = -1);
  m.def("log_softmax", [](py::handle x, int64_t axis) { return log_softmax(to_tensor(x), axis); }, py::arg("x"),
        py::arg("axis") = -1);
  m.def("sparse_softmax_cross_entropy", [](py::handle logits, py::handle labels) {
        return sparse_softmax_cross_entropy(to_tensor(logits), to_tensor(labels, DType::kInt64));
      }, py::arg("logits"), py::arg("labels"),
        "Per-example cross-entropy of int64 labels [N] under softmax(logits [N, C]); take mean() for the batch loss.");

  m.def("zeros", [](py::handle shape, DType dtype) { return zeros(to_shape(shape), dtype); }, py::arg("shape"),
        py::arg("dtype") = DType::kFloat32);
  m.def("ones", [](py::handle shape, DType dtype) { return ones(to_shape(shape), dtype); }, py::arg("shape"),
        py::arg("dtype") = DType::kFloat32);
  m.def("full", [](py::handle shape, double value, DType dtype) { return full(to_shape(shape), value, dtype); },
        py::arg("shape"), py::arg("value"), py::arg("dtype") = DType::kFloat32);
  m.def("zeros_like", [](py::handle x) { return zeros_like(to_tensor(x)); }, py::arg("x"));
  m.def("ones_like", [](py::handle x) { return ones_like(to_tensor(x)); }, py::arg("x"));
  m.def("arange", &arange, py::arg("start"), py::arg("stop"), py::arg("step") = 1.0,
        py::arg("dtype") = DType::kFloat32);
  m.def("random_normal", [](py::handle shape, uint64_t seed, double mean, double stddev, DType dtype) {
        return random_normal(to_shape(shape), seed, mean, stddev, dtype);
      }, py::arg("shape"), py::kw_only(), py::arg("seed"), py::arg("mean") = 0.0, py::arg("stddev") = 1.0,
        py::arg("dtype") = DType::kFloat32, "Seeded normal values: the same seed gives the same values everywhere.");
  m.def("random_uniform", [](py::handle shape, uint64_t seed, double low, double high, DType dtype) {
        return random_uniform(to_shape(shape), seed, low, high, dtype);
      }, py::arg("shape"), py::kw_only(), py::arg("seed"), py::arg("low") = 0.0, py::arg("high") = 1.0,
        py::arg("dtype") = DType::kFloat32, "Seeded uniform values in [low, high).");
}

// Variable's operators are those of its value (vars.cc registers the class
// first and calls this).
void add_variable_operators(py::class_<Variable>& cls) { add_operators(cls); }

}  // namespace graft::python
