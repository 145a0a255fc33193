// Basic indexing, t[...]: ints, slices with step > 0, None and Ellipsis, in any
// combination, mapped to the view ops (select, slice, unsqueeze). The result
// shares storage with t and is differentiable, as in PyTorch/NumPy basic
// indexing. Advanced indexing (tensors, lists, masks) is not supported: use
// embedding, where or masked_fill.
//
// t[...] = value writes through such a view with fill_ / copy_.
#include <vector>

#include "convert.h"

namespace attnkit::python {

namespace {

// One entry of an index tuple.
struct IndexItem {
  enum Kind { Int, Slice, NewAxis, Ellipsis } kind;
  nb::handle obj;
};

bool is_int_index(PyObject* p) {
  // bool is an int subclass, but t[True] means a mask in NumPy/PyTorch.
  return !PyBool_Check(p) && (PyLong_Check(p) || (PyIndex_Check(p) && !PyFloat_Check(p)));
}

IndexItem classify(nb::handle obj) {
  PyObject* p = obj.ptr();
  if (PySlice_Check(p)) return {IndexItem::Slice, obj};
  if (p == Py_None) return {IndexItem::NewAxis, obj};
  if (p == Py_Ellipsis) return {IndexItem::Ellipsis, obj};
  if (nb::isinstance<Tensor>(obj)) {
    const Tensor& t = nb::cast<const Tensor&>(obj);
    // A 0-d integer tensor indexes like an int (as in PyTorch); anything else
    // would be advanced indexing.
    if (t.dim() == 0 && is_integral(t.dtype())) return {IndexItem::Int, obj};
  } else if (is_int_index(p)) {
    return {IndexItem::Int, obj};
  }
  throw nb::type_error(
      detail::concat("index: only ints, slices, None and ... are supported as indices, got ",
                     Py_TYPE(p)->tp_name,
                     " (advanced indexing with tensors, lists or masks is not supported; "
                     "use embedding, where or masked_fill)")
          .c_str());
}

Tensor apply_index(const Tensor& self, nb::handle index) {
  std::vector<IndexItem> items;
  if (PyTuple_Check(index.ptr())) {
    nb::tuple tuple = nb::borrow<nb::tuple>(index);
    items.reserve(tuple.size());
    for (nb::handle item : tuple) items.push_back(classify(item));
  } else {
    items.push_back(classify(index));
  }

  int64_t consuming = 0;  // items that use up a dim of self
  bool seen_ellipsis = false;
  for (const IndexItem& item : items) {
    if (item.kind == IndexItem::Int || item.kind == IndexItem::Slice) ++consuming;
    if (item.kind == IndexItem::Ellipsis) {
      if (seen_ellipsis) throw nb::index_error("index: an index can only have a single ellipsis ('...')");
      seen_ellipsis = true;
    }
  }
  if (consuming > self.dim()) {
    throw nb::index_error(detail::concat("index: too many indices for a tensor of ", self.dim(),
                                         " dimension", self.dim() == 1 ? "" : "s", " (got ",
                                         consuming, ")")
                              .c_str());
  }

  Tensor out = self;
  int64_t d = 0;  // the dim of `out` the next item applies to
  for (const IndexItem& item : items) {
    switch (item.kind) {
      case IndexItem::NewAxis:
        out = out.unsqueeze(d++);
        break;
      case IndexItem::Ellipsis:
        d += self.dim() - consuming;
        break;
      case IndexItem::Int: {
        const int64_t size = out.size(d);
        int64_t i = to_int(item.obj, "index", "an index");
        // IndexError (not ValueError) so `for x in t`-style protocols end.
        if (i < -size || i >= size) {
          throw nb::index_error(detail::concat("index ", i, " is out of bounds for dim ", d,
                                               " of size ", size).c_str());
        }
        out = out.select(d, i < 0 ? i + size : i);
        break;
      }
      case IndexItem::Slice: {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(item.obj.ptr(), &start, &stop, &step) < 0) throw nb::python_error();
        if (step <= 0) throw nb::value_error("index: slice step must be positive");
        PySlice_AdjustIndices(static_cast<Py_ssize_t>(out.size(d)), &start, &stop, step);
        if (stop < start) stop = start;  // an empty slice, not an error
        // A full slice is the identity: skip the view op (and its autograd node).
        if (!(start == 0 && stop == out.size(d) && step == 1)) out = out.slice(d, start, stop, step);
        ++d;
        break;
      }
    }
  }
  return out;
}

}  // namespace

void bind_indexing(TensorClass& cls) {
  using namespace nb::literals;
  cls.def(
         "__getitem__",
         [](const Tensor& t, nb::handle index) {
           // Fast path for t[i], the common case in loops.
           PyObject* p = index.ptr();
           if (PyLong_CheckExact(p) && t.dim() > 0) {
             long long i = PyLong_AsLongLong(p);
             if (i == -1 && PyErr_Occurred()) throw nb::python_error();
             const int64_t size = t.size(0);
             if (i < -size || i >= size) {
               throw nb::index_error(detail::concat("index ", i, " is out of bounds for dim 0 of size ",
                                                    size).c_str());
             }
             return t.select(0, i < 0 ? i + size : i);
           }
           return apply_index(t, index);
         },
         // .none(): nanobind refuses None for an argument unless told, and t[None] is valid.
         "index"_a.none())
      .def(
          "__setitem__",
          [](Tensor& t, nb::handle index, nb::handle value) {
            check_inplace_allowed(t, "__setitem__");
            Tensor view = apply_index(t, index);
            if (nb::isinstance<Tensor>(value)) {
              view.copy_(nb::cast<const Tensor&>(value));
            } else if (auto scalar = to_scalar(value)) {
              view.fill_(scalar->value);
            } else {
              throw nb::type_error(detail::concat("__setitem__: expected a Tensor or a number as the "
                                                  "value, got ", Py_TYPE(value.ptr())->tp_name)
                                       .c_str());
            }
          },
          "index"_a.none(), "value"_a);
}

}  // namespace attnkit::python
