// The neural-network ops with torch / torch.nn.functional signatures: matmul,
// softmax, layer_norm, embedding, dropout, cross_entropy, linear, and joining
// and splitting (cat, stack, split, chunk, unbind).
//
// The heavier ops run with the GIL released, so Python threads (data loading,
// a second model) proceed meanwhile; releasing costs well under a microsecond.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include "binary_ops.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using OptDType = std::optional<DType>;

Tensor softmax_op(const Tensor& x, int64_t dim, OptDType dtype) {
  Tensor input = dtype ? x.to(*dtype) : x;
  nb::gil_scoped_release release;
  return softmax(input, dim);
}

Tensor log_softmax_op(const Tensor& x, int64_t dim, OptDType dtype) {
  Tensor input = dtype ? x.to(*dtype) : x;
  nb::gil_scoped_release release;
  return log_softmax(input, dim);
}

Tensor layer_norm_op(const Tensor& x, nb::handle normalized_shape, const Tensor* weight,
                     const Tensor* bias, double eps) {
  Shape shape = to_shape(normalized_shape, "layer_norm");
  nb::gil_scoped_release release;
  return layer_norm(x, shape, weight ? *weight : Tensor(), bias ? *bias : Tensor(), eps);
}

Tensor linear_op(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  nb::gil_scoped_release release;
  Tensor out = matmul(x, weight.t());  // (..., in) @ (in, out): weight read transposed in place
  return bias ? add(out, *bias) : out;
}

Tensor embedding_op(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx,
                    nb::handle max_norm, double /*norm_type*/, bool scale_grad_by_freq, bool sparse) {
  if (!max_norm.is_none() || scale_grad_by_freq || sparse) {
    throw ValueError("embedding: max_norm, scale_grad_by_freq and sparse are not supported");
  }
  // A negative padding_idx counts from the end, as in PyTorch.
  if (padding_idx && *padding_idx < 0 && weight.dim() > 0) *padding_idx += weight.size(0);
  return embedding(indices, weight, padding_idx);
}

Tensor dropout_op(const Tensor& x, double p, bool training, bool inplace, Generator* generator) {
  if (inplace) throw ValueError("dropout: inplace=True is not supported");
  return dropout(x, p, training, generator);
}

Tensor cross_entropy_op(const Tensor& input, const Tensor& target, nb::handle weight,
                        nb::handle size_average, int64_t ignore_index, nb::handle reduce,
                        std::string_view reduction, double label_smoothing) {
  if (!weight.is_none()) throw ValueError("cross_entropy: class weights are not supported");
  if (!size_average.is_none() || !reduce.is_none()) {
    throw ValueError("cross_entropy: size_average and reduce are deprecated; use reduction=");
  }
  Reduction r = parse_reduction(reduction, "cross_entropy");
  nb::gil_scoped_release release;
  return cross_entropy(input, target, ignore_index, r, label_smoothing);
}

nb::tuple pieces_tuple(const std::vector<Tensor>& pieces) {
  nb::list list;
  for (const Tensor& piece : pieces) list.append(piece);
  return nb::tuple(list);
}

nb::tuple split_op(const Tensor& x, nb::handle split_size_or_sections, int64_t dim) {
  PyObject* p = split_size_or_sections.ptr();
  if (PyLong_Check(p)) return pieces_tuple(split(x, to_int(split_size_or_sections, "split", "split_size"), dim));
  return pieces_tuple(split(x, to_shape(split_size_or_sections, "split"), dim));
}

nb::tuple chunk_op(const Tensor& x, int64_t chunks, int64_t dim) { return pieces_tuple(chunk(x, chunks, dim)); }

nb::tuple unbind_op(const Tensor& x, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "unbind");
  std::vector<Tensor> pieces;
  pieces.reserve(static_cast<size_t>(x.size(d)));
  for (int64_t i = 0; i < x.size(d); ++i) pieces.push_back(x.select(d, i));
  return pieces_tuple(pieces);
}

}  // namespace

void bind_nn_ops(nb::module_& m, TensorClass& cls) {
  // ---- matrix products ----
  m.def("matmul", &matmul_without_gil, "input"_a, "other"_a,
        "Matrix product with NumPy semantics: (n)@(n), (m,k)@(k), (..,m,k)@(..,k,n) with batch "
        "dims broadcast.");
  cls.def("matmul", &matmul_without_gil, "other"_a);
  m.def("mm", &matmul_without_gil, "input"_a, "mat2"_a, "Matrix product (alias of matmul).");
  cls.def("mm", &matmul_without_gil, "mat2"_a);
  m.def("bmm", &matmul_without_gil, "input"_a, "mat2"_a, "Batched matrix product (matmul).");
  cls.def("bmm", &matmul_without_gil, "mat2"_a);
  m.def("linear", &linear_op, "input"_a, "weight"_a, "bias"_a = nb::none(),
        "input @ weight.T + bias, as torch.nn.functional.linear; weight is (out, in).");

  // ---- softmax and normalisation ----
  m.def("softmax", &softmax_op, "input"_a, "dim"_a, nb::kw_only(), "dtype"_a = nb::none(),
        "softmax along dim (input converted to dtype first, if given).");
  cls.def("softmax", &softmax_op, "dim"_a, nb::kw_only(), "dtype"_a = nb::none());
  m.def("log_softmax", &log_softmax_op, "input"_a, "dim"_a, nb::kw_only(), "dtype"_a = nb::none(),
        "log(softmax(input)) along dim, computed stably.");
  cls.def("log_softmax", &log_softmax_op, "dim"_a, nb::kw_only(), "dtype"_a = nb::none());
  m.def("layer_norm", &layer_norm_op, "input"_a, "normalized_shape"_a, "weight"_a = nb::none(),
        "bias"_a = nb::none(), "eps"_a = 1e-5,
        "Layer normalisation over the trailing normalized_shape dims (biased variance).");

  // ---- lookup, regularisation, loss ----
  m.def("embedding", &embedding_op, "input"_a, "weight"_a, "padding_idx"_a = nb::none(),
        "max_norm"_a = nb::none(), "norm_type"_a = 2.0, "scale_grad_by_freq"_a = false,
        "sparse"_a = false,
        "weight[input]: rows of weight (num_embeddings, dim) for int64/int32 indices of any shape.");
  m.def("dropout", &dropout_op, "input"_a, "p"_a = 0.5, "training"_a = true, "inplace"_a = false,
        nb::kw_only(), "generator"_a = nb::none(),
        "Inverted dropout: zero with probability p, scale the rest by 1/(1-p); identity when not "
        "training.");
  m.def("cross_entropy", &cross_entropy_op, "input"_a, "target"_a, "weight"_a = nb::none(),
        "size_average"_a = nb::none(), "ignore_index"_a = -100, "reduce"_a = nb::none(),
        "reduction"_a = "mean", "label_smoothing"_a = 0.0,
        "Cross-entropy of logits (N, C) / (C) / (N, C, d1, ...) against int64 class targets.");

  // ---- joining and splitting ----
  m.def("cat",
        [](const std::vector<Tensor>& tensors, int64_t dim) {
          nb::gil_scoped_release release;
          return cat(tensors, dim);
        },
        "tensors"_a, "dim"_a = 0, "Concatenates along an existing dim.");
  m.attr("concat") = m.attr("cat");
  m.attr("concatenate") = m.attr("cat");
  m.def("stack",
        [](const std::vector<Tensor>& tensors, int64_t dim) {
          nb::gil_scoped_release release;
          return stack(tensors, dim);
        },
        "tensors"_a, "dim"_a = 0, "Joins along a new dim.");
  m.def("split", &split_op, "tensor"_a, "split_size_or_sections"_a, "dim"_a = 0,
        "Views of pieces of split_size (the last may be smaller) or of the given sizes.");
  cls.def("split", &split_op, "split_size"_a, "dim"_a = 0);
  m.def("chunk", &chunk_op, "input"_a, "chunks"_a, "dim"_a = 0,
        "`chunks` views of ceil(size / chunks) along dim (fewer if the size runs out).");
  cls.def("chunk", &chunk_op, "chunks"_a, "dim"_a = 0);
  m.def("unbind", &unbind_op, "input"_a, "dim"_a = 0, "The slices along dim, as views.");
  cls.def("unbind", &unbind_op, "dim"_a = 0);
}

}  // namespace attnkit::python
