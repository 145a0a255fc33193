// Views (core/tensor.h): shapes, strides and offsets, shared storage, writes
// through views, when reshape copies, and the gradient of every view.
#include "gradcheck.h"

namespace attnkit::testing {
namespace {

Tensor iota(const Shape& shape) { return arange(0.0, static_cast<double>(shape_numel(shape)), 1.0, kFloat32).reshape(shape); }

TEST(Views, ContiguousStrides) {
  Tensor x = zeros({2, 3, 4});
  EXPECT_EQ(x.strides(), (Shape{12, 4, 1}));
  EXPECT_TRUE(x.is_contiguous());
  EXPECT_EQ(contiguous_strides({5}), (Shape{1}));
  EXPECT_EQ(contiguous_strides({}), (Shape{}));
  EXPECT_EQ(scalar_tensor(2.0).strides(), (Shape{}));
}

TEST(Views, PermuteTransposeT) {
  Tensor x = iota({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_TRUE(p.shares_storage_with(x));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.at({3, 1, 2}), x.at({1, 2, 3}));
  EXPECT_EQ(x.permute({-1, 0, 1}).shape(), (Shape{4, 2, 3}));

  Tensor t = x.transpose(0, 2);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.strides(), (Shape{1, 4, 12}));
  EXPECT_EQ(x.transpose(-1, -2).strides(), (Shape{12, 1, 4}));

  Tensor m = iota({3, 5});
  EXPECT_EQ(m.t().shape(), (Shape{5, 3}));
  EXPECT_EQ(m.t().strides(), (Shape{1, 5}));
  EXPECT_EQ(iota({4}).t().shape(), (Shape{4}));
}

TEST(Views, SliceNarrowSelect) {
  Tensor x = iota({2, 3, 4});
  Tensor s = x.slice(2, 1, 4, 2);  // columns 1, 3
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(s.strides(), (Shape{12, 4, 2}));
  EXPECT_EQ(s.offset(), 1);
  EXPECT_TRUE(all_close(s.select(0, 1).select(0, 2), {21, 23}, 0, 0));
  EXPECT_EQ(x.slice(1, 0, 3, 2).shape(), (Shape{2, 2, 4}));  // rows 0, 2 (ceil)
  EXPECT_EQ(x.slice(1, 1, 3).shape(), (Shape{2, 2, 4}));
  EXPECT_EQ(x.slice(1, 1, 3).offset(), 4);
  EXPECT_EQ(x.slice(0, 1, 1).shape(), (Shape{0, 3, 4}));

  Tensor n = x.narrow(2, 1, 2);
  EXPECT_EQ(n.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(n.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(n.offset(), 1);

  Tensor sel = x.select(1, 2);
  EXPECT_EQ(sel.shape(), (Shape{2, 4}));
  EXPECT_EQ(sel.strides(), (Shape{12, 1}));
  EXPECT_EQ(sel.offset(), 8);
  EXPECT_EQ(x.select(-1, 3).at({1, 1}), x.at({1, 1, 3}));
  EXPECT_EQ(x.select(0, -1).at({0, 0}), 12.0);  // negative index counts from the end
  EXPECT_EQ(x.select(0, 1).select(0, 2).select(0, 3).dim(), 0);
  EXPECT_EQ(x.select(0, 1).select(0, 2).select(0, 3).item(), 23.0);
}

TEST(Views, ExpandSqueezeUnsqueezeFlatten) {
  Tensor col = iota({3, 1});
  Tensor e = col.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_EQ(e.strides()[2], 0);
  EXPECT_EQ(e.strides()[1], 1);
  EXPECT_TRUE(e.shares_storage_with(col));
  EXPECT_EQ(e.at({1, 2, 3}), 2.0);
  EXPECT_EQ(col.expand({-1, 5}).shape(), (Shape{3, 5}));

  Tensor x = zeros({1, 3, 1, 2});
  EXPECT_EQ(x.squeeze().shape(), (Shape{3, 2}));
  EXPECT_EQ(x.squeeze(2).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(x.squeeze(-4).shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(x.squeeze(1).shape(), (Shape{1, 3, 1, 2}));  // not size 1: unchanged, as torch
  EXPECT_EQ(x.unsqueeze(0).shape(), (Shape{1, 1, 3, 1, 2}));
  EXPECT_EQ(x.unsqueeze(4).shape(), (Shape{1, 3, 1, 2, 1}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{1, 3, 1, 2, 1}));
  EXPECT_EQ(iota({3}).unsqueeze(1).strides()[0], 1);

  Tensor y = iota({2, 3, 4});
  EXPECT_EQ(y.flatten().shape(), (Shape{24}));
  EXPECT_EQ(y.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(y.flatten(0, 1).shape(), (Shape{6, 4}));
  EXPECT_EQ(y.flatten(-2, -1).shape(), (Shape{2, 12}));
  EXPECT_TRUE(y.flatten(1).shares_storage_with(y));
  EXPECT_EQ(scalar_tensor(1.0).flatten().shape(), (Shape{1}));
}

TEST(Views, WritesThroughAViewReachTheBase) {
  Tensor x = zeros({3, 4});
  x.slice(1, 1, 4, 2).fill_(5.0);
  x.select(0, 2).fill_(-1.0);
  EXPECT_TRUE(all_close(x, {0, 5, 0, 5, 0, 5, 0, 5, -1, -1, -1, -1}, 0, 0));
  x.t().select(0, 0).copy_(from_vector({7, 8, 9}, {3}));
  EXPECT_TRUE(all_close(x.select(1, 0), {7, 8, 9}, 0, 0));
}

TEST(Views, ReshapeViewsWhenPossibleAndCopiesOtherwise) {
  Tensor x = iota({2, 3, 4});
  Tensor r = x.reshape({6, 4});
  EXPECT_TRUE(r.shares_storage_with(x));
  EXPECT_EQ(r.strides(), (Shape{4, 1}));
  EXPECT_EQ(x.reshape({4, -1}).shape(), (Shape{4, 6}));
  EXPECT_EQ(x.reshape({-1}).shape(), (Shape{24}));
  // A permuted tensor can still be viewed when the merged dims stay adjacent.
  Tensor p = x.permute({1, 2, 0});   // (3, 4, 2), strides (4, 1, 12)
  Tensor merged = p.reshape({12, 2});  // dims 0, 1 merge: stride 1
  EXPECT_TRUE(merged.shares_storage_with(x));
  EXPECT_EQ(merged.strides(), (Shape{1, 12}));
  EXPECT_EQ(p.view({12, 2}).strides(), (Shape{1, 12}));
  // Not viewable: reshape copies, view throws.
  Tensor t = x.transpose(1, 2);  // (2, 4, 3)
  Tensor copied = t.reshape({2, 12});
  EXPECT_FALSE(copied.shares_storage_with(x));
  std::vector<double> expected = values(t);
  EXPECT_TRUE(all_close(copied, expected, 0, 0));
  EXPECT_TRUE(throws_error_naming([&] { t.view({2, 12}); }, "view"));
  // Size-1 dims and slices.
  Tensor s = x.slice(2, 0, 4, 2);  // (2, 3, 2) strides (12, 4, 2)
  EXPECT_TRUE(s.reshape({2, 3, 1, 2}).shares_storage_with(x));
  EXPECT_TRUE(all_close(s.reshape({12}), values(s), 0, 0));
}

TEST(Views, ContiguousCopiesOnlyWhenNeeded) {
  Tensor x = iota({3, 4});
  Tensor same = x.contiguous();
  EXPECT_EQ(same.data_ptr(), x.data_ptr());
  EXPECT_EQ(same.impl_ptr(), x.impl_ptr());
  Tensor t = x.t();
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.shares_storage_with(x));
  EXPECT_EQ(c.strides(), (Shape{3, 1}));
  EXPECT_TRUE(all_close(c, values(t), 0, 0));
  // Size-1 dims with odd strides are still contiguous.
  Tensor row = x.slice(0, 1, 2);  // (1, 4)
  EXPECT_TRUE(row.is_contiguous());
  EXPECT_EQ(row.contiguous().data_ptr(), row.data_ptr());
  Tensor sliced = x.slice(1, 0, 4, 2);
  EXPECT_FALSE(sliced.is_contiguous());
  EXPECT_TRUE(all_close(sliced.contiguous(), {0, 2, 4, 6, 8, 10}, 0, 0));
  // An expanded tensor materialises its repeats.
  Tensor e = from_vector({1, 2}, {2, 1}).expand({2, 3}).contiguous();
  EXPECT_TRUE(all_close(e, {1, 1, 1, 2, 2, 2}, 0, 0));
}

// ---------------------------------------------------------------- gradients

struct ViewCase {
  const char* name;
  Shape input;
  std::function<Tensor(const Tensor&)> view;
  bool needs_contiguous = false;  // view() of a strided input would rightly throw
};

const std::vector<ViewCase>& view_cases() {
  static const std::vector<ViewCase> cases = {
      {"reshape", {2, 3, 4}, [](const Tensor& x) { return x.reshape({6, 4}); }},
      {"reshape_infer", {2, 3, 4}, [](const Tensor& x) { return x.reshape({4, -1}); }},
      {"reshape_of_transposed_copies", {2, 3, 4},
       [](const Tensor& x) { return x.transpose(0, 2).reshape({4, 6}); }},
      {"view", {2, 3, 4}, [](const Tensor& x) { return x.view({3, 8}); }, true},
      {"view_keeping_last_dim", {2, 3, 4}, [](const Tensor& x) { return x.view({6, 4}); }},
      {"permute", {2, 3, 4}, [](const Tensor& x) { return x.permute({2, 0, 1}); }},
      {"transpose", {2, 3, 4}, [](const Tensor& x) { return x.transpose(0, -1); }},
      {"t", {3, 5}, [](const Tensor& x) { return x.t(); }},
      {"slice", {4, 6}, [](const Tensor& x) { return x.slice(1, 1, 5); }},
      {"slice_step", {4, 7}, [](const Tensor& x) { return x.slice(1, 1, 7, 3); }},
      {"slice_step_dim0", {7, 3}, [](const Tensor& x) { return x.slice(0, 0, 7, 2); }},
      {"narrow", {4, 6}, [](const Tensor& x) { return x.narrow(0, 1, 2); }},
      {"select", {3, 4, 5}, [](const Tensor& x) { return x.select(1, 2); }},
      {"select_negative", {3, 4}, [](const Tensor& x) { return x.select(-1, -1); }},
      {"expand", {3, 1}, [](const Tensor& x) { return x.expand({2, 3, 4}); }},
      {"expand_keep", {1, 4}, [](const Tensor& x) { return x.expand({3, -1}); }},
      {"squeeze_all", {1, 3, 1, 2}, [](const Tensor& x) { return x.squeeze(); }},
      {"squeeze_dim", {3, 1, 2}, [](const Tensor& x) { return x.squeeze(1); }},
      {"unsqueeze", {3, 2}, [](const Tensor& x) { return x.unsqueeze(1); }},
      {"unsqueeze_last", {3, 2}, [](const Tensor& x) { return x.unsqueeze(-1); }},
      {"flatten", {2, 3, 4}, [](const Tensor& x) { return x.flatten(1); }},
      {"flatten_transposed", {2, 3, 4}, [](const Tensor& x) { return x.transpose(0, 1).flatten(); }},
      {"clone", {2, 3}, [](const Tensor& x) { return x.clone(); }},
      {"contiguous_of_transposed", {2, 3}, [](const Tensor& x) { return x.t().contiguous(); }},
      {"chain", {2, 3, 4},
       [](const Tensor& x) { return x.permute({1, 0, 2}).slice(2, 0, 4, 2).reshape({3, 4}).t(); }},
      {"overlapping_uses", {3, 4},
       [](const Tensor& x) { return cat({x.slice(1, 0, 3), x.slice(1, 1, 4), x.select(0, 1).unsqueeze(1).expand({4, 3})}, 0); }},
  };
  return cases;
}

class ViewGrad : public ::testing::TestWithParam<size_t> {};

TEST_P(ViewGrad, Gradcheck) {
  const ViewCase& c = view_cases()[GetParam()];
  Tensor x = leaf(randn_tensor(c.input, 151 + GetParam()));
  auto view = c.view;
  EXPECT_TRUE(gradcheck([&](const auto& in) { return view(in[0]); }, {x}));
  if (c.needs_contiguous) return;
  // The same view of a non-contiguous leaf.
  Tensor y = leaf(relayout(randn_tensor(c.input, 171 + GetParam()), Layout::Strided));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return view(in[0]); }, {y}));
}

INSTANTIATE_TEST_SUITE_P(Views, ViewGrad, ::testing::Range<size_t>(0, view_cases().size()),
                         [](const auto& info) { return std::string(view_cases()[info.param].name); });

TEST(Views, ViewsOfLeavesRecordHistory) {
  Tensor x = leaf(randn_tensor({2, 3}, 191));
  Tensor v = x.t();
  EXPECT_TRUE(v.requires_grad());
  EXPECT_FALSE(v.is_leaf());
  EXPECT_TRUE(v.shares_storage_with(x));
  Tensor y = randn_tensor({2, 3}, 192);
  EXPECT_FALSE(y.t().requires_grad());
}

}  // namespace
}  // namespace attnkit::testing
