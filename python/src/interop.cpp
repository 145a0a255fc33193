// Zero-copy exchange with NumPy and anything speaking DLPack (PyTorch, JAX...).
//
// Out: t.numpy(), np.asarray(t), t.__dlpack__() wrap the tensor's memory in a
// nanobind ndarray whose owner is a capsule holding the tensor's Storage, so
// the memory lives as long as either side uses it.
// In: from_numpy(a), from_dlpack(x) wrap the producer's memory in a borrowed
// Storage whose release drops the producer's reference. That release may run
// wherever the last tensor view dies, including inside an op running with the
// GIL released, so it takes the GIL itself.
#include <nanobind/ndarray.h>

#include <memory>
#include <string>

#include "convert.h"

namespace attnkit::python {

namespace {

namespace dl = nb::dlpack;

dl::dtype to_dlpack(DType dtype) {
  switch (dtype) {
    case DType::Float32: return nb::dtype<float>();
    case DType::BFloat16: return dl::dtype{static_cast<uint8_t>(dl::dtype_code::Bfloat), 16, 1};
    case DType::Int64: return nb::dtype<int64_t>();
    case DType::Int32: return nb::dtype<int32_t>();
    case DType::Bool: return nb::dtype<bool>();
  }
  throw Error("internal error: unknown dtype");
}

std::optional<DType> from_dlpack_dtype(dl::dtype dtype) {
  if (dtype.lanes != 1) return std::nullopt;
  for (DType d : {kFloat32, kBFloat16, kInt64, kInt32, kBool}) {
    if (to_dlpack(d) == dtype) return d;
  }
  return std::nullopt;
}

std::string dlpack_dtype_str(dl::dtype dtype) {
  const char* kind = "?";
  switch (static_cast<dl::dtype_code>(dtype.code)) {
    case dl::dtype_code::Int: kind = "int"; break;
    case dl::dtype_code::UInt: kind = "uint"; break;
    case dl::dtype_code::Float: kind = "float"; break;
    case dl::dtype_code::Bfloat: kind = "bfloat"; break;
    case dl::dtype_code::Complex: kind = "complex"; break;
    case dl::dtype_code::Bool: kind = "bool"; break;
    default: break;
  }
  return detail::concat(kind, static_cast<int>(dtype.bits));
}

// The tensor's memory as an ndarray of `Framework`, owned by a capsule that
// holds the storage (not the Python Tensor, which may die first).
template <typename Framework>
nb::ndarray<Framework> as_ndarray(const Tensor& t) {
  auto* storage = new std::shared_ptr<Storage>(t.storage());
  nb::capsule owner(storage, [](void* p) noexcept {
    delete static_cast<std::shared_ptr<Storage>*>(p);
  });
  std::vector<size_t> shape(t.shape().begin(), t.shape().end());
  return nb::ndarray<Framework>(t.data_ptr(), shape.size(), shape.data(), owner,
                                t.strides().data(), to_dlpack(t.dtype()), nb::device::cpu::value);
}

nb::object to_numpy(const Tensor& t) {
  if (t.dtype() == kBFloat16) {
    throw nb::type_error(
        "numpy: NumPy has no bfloat16 dtype; call .to(attnkit.float32) first");
  }
  return as_ndarray<nb::numpy>(t).cast();
}

// Releases a producer's array/capsule holder under the GIL. At interpreter
// exit the Python objects are gone with the interpreter; the holder is leaked
// rather than touching them.
struct ProducerRef {
  nb::ndarray<nb::ro> array;
};

void release_producer(ProducerRef* ref) {
#if PY_VERSION_HEX >= 0x030D0000
  if (!Py_IsInitialized() || Py_IsFinalizing()) return;
#else
  if (!Py_IsInitialized() || _Py_IsFinalizing()) return;
#endif
  nb::gil_scoped_acquire gil;
  delete ref;
}

Tensor wrap_ndarray(nb::ndarray<nb::ro> array, const char* op) {
  if (array.device_type() != nb::device::cpu::value) {
    throw nb::value_error(detail::concat(op, ": only CPU memory can be shared, got DLPack device ",
                                         array.device_type()).c_str());
  }
  std::optional<DType> dtype = from_dlpack_dtype(array.dtype());
  if (!dtype) {
    throw nb::type_error(detail::concat(op, ": unsupported dtype ", dlpack_dtype_str(array.dtype()),
                                        "; attnkit supports float32, bfloat16, int64, int32 and "
                                        "bool (convert first, e.g. a.astype(numpy.float32))")
                             .c_str());
  }
  Shape shape(array.ndim()), strides(array.ndim());
  for (size_t d = 0; d < array.ndim(); ++d) {
    shape[d] = static_cast<int64_t>(array.shape(d));
    strides[d] = array.stride(d);
    if (strides[d] < 0) {
      throw nb::value_error(detail::concat(op, ": arrays with negative strides are not supported; "
                                           "pass a copy (e.g. a.copy())").c_str());
    }
  }
  void* data = const_cast<void*>(static_cast<const void*>(array.data()));
  auto* ref = new ProducerRef{std::move(array)};
  try {
    return from_blob(data, shape, *dtype, [ref](void*) { release_producer(ref); }, strides);
  } catch (...) {
    delete ref;  // from_blob refused before taking ownership; we hold the GIL here
    throw;
  }
}

nb::object tolist(const Tensor& t) {
  // bfloat16 widens exactly to float32, which NumPy can hold.
  Tensor readable = t.dtype() == kBFloat16 ? t.to(kFloat32) : t;
  return to_numpy(readable).attr("tolist")();
}

}  // namespace

void bind_interop(nb::module_& m, TensorClass& cls) {
  using namespace nb::literals;

  cls.def("numpy", [](const Tensor& t, bool /*force*/) { return to_numpy(t); }, "force"_a = false,
          "A NumPy array sharing this tensor's memory (no copy); writes are visible both ways. "
          "bfloat16 has no NumPy dtype: call .to(attnkit.float32) first.")
      .def(
          "__array__",
          [](const Tensor& t, nb::handle dtype, nb::handle copy) {
            // np.asarray(t): a view, except bfloat16 which is widened (a copy).
            nb::object array = to_numpy(t.dtype() == kBFloat16 ? t.to(kFloat32) : t);
            if (!dtype.is_none()) array = array.attr("astype")(dtype, "copy"_a = false);
            if (copy.ptr() == Py_True) array = array.attr("copy")();
            return array;
          },
          "dtype"_a = nb::none(), "copy"_a = nb::none())
      .def("tolist", &tolist, "The values as (nested) Python lists of numbers.")
      .def(
          "__dlpack__",
          [](const Tensor& t, nb::kwargs kwargs) {
            // The ndarray implements the protocol (stream, max_version,
            // dl_device, copy), including the versioned DLPack 1.x capsule.
            // (array_api: nanobind's own array object; no_framework would be a bare capsule)
            nb::object array = as_ndarray<nb::array_api>(t).cast();
            return array.attr("__dlpack__")(**kwargs);
          },
          "kwargs"_a, "DLPack export (zero-copy): torch.from_dlpack(t), numpy.from_dlpack(t).")
      .def("__dlpack_device__", [](const Tensor&) { return nb::make_tuple(1, 0); },
           "(kDLCPU, 0)");

  m.def("from_numpy",
        [](nb::handle array) {
          nb::object numpy = nb::module_::import_("numpy");
          if (!nb::isinstance(array, numpy.attr("ndarray"))) {
            throw nb::type_error(detail::concat("from_numpy: expected a numpy.ndarray, got ",
                                                Py_TYPE(array.ptr())->tp_name).c_str());
          }
          // attnkit tensors are writable; sharing read-only memory (a broadcast
          // view, a read-only memmap, frombuffer(bytes)) would let writes land
          // where they must not.
          if (!nb::cast<bool>(array.attr("flags").attr("writeable"))) {
            throw nb::value_error(
                "from_numpy: the array is read-only and attnkit tensors are writable; pass a "
                "writable array, or copy it with attnkit.tensor(a)");
          }
          nb::ndarray<nb::ro> view;
          if (!nb::try_cast(array, view)) {
            nb::str dtype = nb::steal<nb::str>(PyObject_Str(nb::object(array.attr("dtype")).ptr()));
            throw nb::type_error(detail::concat("from_numpy: cannot share the memory of a ",
                                                dtype.c_str(), " array").c_str());
          }
          return wrap_ndarray(std::move(view), "from_numpy");
        },
        "ndarray"_a,
        "A tensor sharing the NumPy array's memory (no copy); the array is kept alive.")
      .def("from_dlpack",
           [](nb::handle ext_tensor) -> Tensor {
             if (nb::isinstance<Tensor>(ext_tensor)) return nb::cast<const Tensor&>(ext_tensor).detach();
             nb::ndarray<nb::ro> array;
             if (!nb::try_cast(ext_tensor, array)) {
               throw nb::type_error(detail::concat("from_dlpack: expected an object supporting "
                                                   "__dlpack__ (or the buffer protocol), got ",
                                                   Py_TYPE(ext_tensor.ptr())->tp_name).c_str());
             }
             return wrap_ndarray(std::move(array), "from_dlpack");
           },
           "ext_tensor"_a,
           "A tensor sharing the memory of any DLPack producer (a torch.Tensor, a NumPy array, "
           "...), no copy; the producer is kept alive.");
}

}  // namespace attnkit::python
