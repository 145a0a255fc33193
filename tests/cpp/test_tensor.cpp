// Tensor basics (core/tensor.h, core/dtype.h): creation, dtypes and
// conversions (bfloat16 rounding), from_blob, fill_/copy_, clone, detach.
#include <cmath>
#include <cstring>
#include <limits>

#include "test_support.h"

namespace attnkit::testing {
namespace {

TEST(Creation, FactoriesFillValues) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), kFloat32);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_TRUE(all_close(z, std::vector<double>(6, 0.0), 0, 0));
  EXPECT_TRUE(all_close(ones({4}, kInt64), {1, 1, 1, 1}, 0, 0));
  EXPECT_EQ(ones({4}, kInt64).dtype(), kInt64);
  EXPECT_TRUE(all_close(full({2}, 2.5), {2.5, 2.5}, 0, 0));
  EXPECT_TRUE(all_close(full({2}, -3.0, kInt32), {-3, -3}, 0, 0));
  EXPECT_TRUE(all_close(full({2}, 1.0, kBool), {1, 1}, 0, 0));
  EXPECT_TRUE(all_close(zeros_like(ones({2, 2}, kInt32)), {0, 0, 0, 0}, 0, 0));
  EXPECT_EQ(ones_like(zeros({3}, kBFloat16)).dtype(), kBFloat16);
  EXPECT_TRUE(all_close(ones_like(zeros({3}, kBFloat16)), {1, 1, 1}, 0, 0));
  Tensor s = scalar_tensor(4.5);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 4.5);
  EXPECT_EQ(empty({0, 5}).numel(), 0);
}

TEST(Creation, Arange) {
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), kInt64);
  EXPECT_TRUE(all_close(a, {0, 1, 2, 3, 4}, 0, 0));
  EXPECT_TRUE(all_close(arange(2, 11, 3), {2, 5, 8}, 0, 0));
  Tensor f = arange(0, 1, 0.25, kFloat32);
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_TRUE(all_close(f, {0, 0.25, 0.5, 0.75}, 0, 0));
  EXPECT_TRUE(all_close(arange(3, 0, -1), {3, 2, 1}, 0, 0));
  EXPECT_EQ(arange(0).numel(), 0);
}

TEST(Creation, FromVectorCopies) {
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  Tensor t = from_vector(data, {2, 3});
  data[0] = 100;
  EXPECT_EQ(t.at({0, 0}), 1.0);
  EXPECT_EQ(t.at({1, 2}), 6.0);
  EXPECT_EQ(t.at({-1, -1}), 6.0);
  Tensor i = from_vector_i64({7, -8}, {2});
  EXPECT_EQ(i.dtype(), kInt64);
  EXPECT_EQ(i.data<int64_t>()[1], -8);
}

TEST(Creation, ShapeHelpers) {
  EXPECT_EQ(shape_str({2, 3}), "(2, 3)");
  EXPECT_EQ(shape_str({3}), "(3,)");
  EXPECT_EQ(shape_str({}), "()");
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({3, 0}), 0);
  EXPECT_EQ(wrap_dim(-1, 3, "test"), 2);
  EXPECT_EQ(wrap_dim(2, 3, "test"), 2);
  EXPECT_EQ(wrap_dim(-1, 0, "test"), 0);  // a 0-d tensor accepts -1 and 0
  EXPECT_TRUE(throws_error_naming([] { wrap_dim(3, 3, "myop"); }, "myop"));
  EXPECT_TRUE(throws_error_naming([] { wrap_dim(-4, 3, "myop"); }, "myop"));
}

TEST(Creation, ToStringNamesShapeAndDtype) {
  std::string s = from_vector({1, 2}, {1, 2}).to_string();
  EXPECT_NE(s.find("(1, 2)"), std::string::npos) << s;
  EXPECT_NE(s.find("float32"), std::string::npos) << s;
  EXPECT_EQ(Tensor().to_string(), "tensor(undefined)");
}

// ---------------------------------------------------------------- dtypes

TEST(DTypes, SizesAndNames) {
  EXPECT_EQ(dtype_size(kFloat32), 4u);
  EXPECT_EQ(dtype_size(kBFloat16), 2u);
  EXPECT_EQ(dtype_size(kInt64), 8u);
  EXPECT_EQ(dtype_size(kInt32), 4u);
  EXPECT_EQ(dtype_size(kBool), 1u);
  EXPECT_EQ(dtype_name(kFloat32), "float32");
  EXPECT_EQ(dtype_name(kBFloat16), "bfloat16");
  EXPECT_EQ(dtype_name(kInt64), "int64");
  EXPECT_TRUE(is_floating(kBFloat16));
  EXPECT_FALSE(is_floating(kInt32));
  EXPECT_TRUE(is_integral(kInt32));
  EXPECT_FALSE(is_integral(kBool));
}

float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

TEST(BFloat16, ExactValuesRoundTrip) {
  for (float v : {1.0f, 3.140625f, -2.5f, 0.0f, 65536.0f, 1.0f / 128}) {
    EXPECT_EQ(bf16_to_float(float_to_bf16(v)), v);
  }
  EXPECT_EQ(float_to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(float_to_bf16(3.140625f).bits, 0x4049);
  EXPECT_EQ(float_to_bf16(-2.0f).bits, 0xc000);
}

TEST(BFloat16, RoundsToNearestEven) {
  // bfloat16 keeps 7 fraction bits: near 1 its spacing is 2^-7.
  const float halfway_down = 1.0f + std::ldexp(1.0f, -8);        // 1 + 0.5 ulp -> 1 (even)
  const float halfway_up = 1.0f + 3 * std::ldexp(1.0f, -8);      // 1 + 1.5 ulp -> 1 + 2 ulp
  const float above_half = 1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20);
  const float below_half = 1.0f + std::ldexp(1.0f, -8) - std::ldexp(1.0f, -20);
  EXPECT_EQ(bf16_to_float(float_to_bf16(halfway_down)), 1.0f);
  EXPECT_EQ(bf16_to_float(float_to_bf16(halfway_up)), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_EQ(bf16_to_float(float_to_bf16(above_half)), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_EQ(bf16_to_float(float_to_bf16(below_half)), 1.0f);
  // pi rounds to 3.140625 (0x4049).
  EXPECT_EQ(bf16_to_float(float_to_bf16(3.14159265f)), 3.140625f);
  // Overflow past the largest finite bfloat16 rounds to infinity.
  EXPECT_TRUE(std::isinf(bf16_to_float(float_to_bf16(bits_to_float(0x7f7fffffu)))));
  EXPECT_TRUE(std::isinf(bf16_to_float(float_to_bf16(std::numeric_limits<float>::infinity()))));
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload sits in the low bits must not round into infinity.
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(bits_to_float(0x7f800001u)))));
}

TEST(BFloat16, TensorConversionMatchesScalarRule) {
  const float halfway_down = 1.0f + std::ldexp(1.0f, -8);
  const float halfway_up = 1.0f + 3 * std::ldexp(1.0f, -8);
  Tensor x = from_vector({1.0f, 3.140625f, 3.14159265f, halfway_down, halfway_up, -0.0f,
                          std::numeric_limits<float>::quiet_NaN()},
                         {7});
  Tensor b = x.to(kBFloat16);
  EXPECT_EQ(b.dtype(), kBFloat16);
  EXPECT_EQ(b.shape(), x.shape());
  const BFloat16* bits = b.data<BFloat16>();
  EXPECT_EQ(bits[0].bits, 0x3f80);
  EXPECT_EQ(bits[1].bits, 0x4049);
  EXPECT_EQ(bits[2].bits, 0x4049);
  Tensor back = b.to(kFloat32);
  EXPECT_TRUE(all_close(back, {1.0, 3.140625, 3.140625, 1.0, 1.0 + std::ldexp(1.0, -6), 0.0,
                               std::numeric_limits<double>::quiet_NaN()},
                        0, 0));
  // A non-contiguous source converts through its strides.
  Tensor m = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).t();
  EXPECT_TRUE(all_close(m.to(kBFloat16).to(kFloat32), {1, 4, 2, 5, 3, 6}, 0, 0));
}

TEST(Conversions, BetweenDtypes) {
  Tensor f = from_vector({-1.7f, 0.0f, 2.9f, 3.0f}, {4});
  EXPECT_EQ(f.to(kFloat32).impl_ptr(), f.impl_ptr());  // same dtype: self
  Tensor i = f.to(kInt64);
  EXPECT_EQ(i.dtype(), kInt64);
  EXPECT_TRUE(all_close(i, {-1, 0, 2, 3}, 0, 0));  // truncation toward zero, as C++ and torch
  EXPECT_TRUE(all_close(f.to(kInt32), {-1, 0, 2, 3}, 0, 0));
  EXPECT_TRUE(all_close(f.to(kBool), {1, 0, 1, 1}, 0, 0));
  EXPECT_TRUE(all_close(f.to(kBool).to(kFloat32), {1, 0, 1, 1}, 0, 0));
  Tensor big = from_vector_i64({(int64_t{1} << 40) + 1, -5}, {2});
  EXPECT_TRUE(all_close(big.to(kInt32).to(kInt64), {1, -5}, 0, 0));  // wraps mod 2^32
  EXPECT_TRUE(all_close(from_vector_i64({3, -4}, {2}).to(kFloat32), {3, -4}, 0, 0));
  // The result owns new memory.
  Tensor g = f.to(kInt64);
  EXPECT_FALSE(g.shares_storage_with(f));
}

// ---------------------------------------------------------------- from_blob

TEST(FromBlob, NoCopyAndReleaseRunsOnce) {
  std::vector<float> memory = {1, 2, 3, 4, 5, 6};
  int released = 0;
  void* released_ptr = nullptr;
  {
    Tensor t = from_blob(memory.data(), {2, 3}, kFloat32, [&](void* p) {
      ++released;
      released_ptr = p;
    });
    EXPECT_EQ(t.data_ptr(), memory.data());
    EXPECT_EQ(t.strides(), (Shape{3, 1}));
    memory[4] = 50;  // writes are visible both ways
    EXPECT_EQ(t.at({1, 1}), 50.0);
    t.select(0, 0).fill_(-1.0);
    EXPECT_EQ(memory[2], -1.0f);
    Tensor view = t.t().slice(0, 1, 3);
    t = Tensor();
    EXPECT_EQ(released, 0);  // the view keeps the storage alive
    EXPECT_EQ(view.at({1, 1}), 6.0);
  }
  EXPECT_EQ(released, 1);
  EXPECT_EQ(released_ptr, memory.data());
}

TEST(FromBlob, CustomStridesAndNoRelease) {
  std::vector<int64_t> memory = {0, 1, 2, 3, 4, 5, 6, 7};
  // A (2, 3) view with row stride 4 and column stride 1 (padded rows).
  Tensor t = from_blob(memory.data(), {2, 3}, kInt64, {}, Shape{4, 1});
  EXPECT_EQ(t.dtype(), kInt64);
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_TRUE(all_close(t, {0, 1, 2, 4, 5, 6}, 0, 0));
  EXPECT_TRUE(all_close(t.contiguous(), {0, 1, 2, 4, 5, 6}, 0, 0));
  // Column-major.
  std::vector<float> cm = {1, 4, 2, 5, 3, 6};
  Tensor c = from_blob(cm.data(), {2, 3}, kFloat32, {}, Shape{1, 2});
  EXPECT_TRUE(all_close(c, {1, 2, 3, 4, 5, 6}, 0, 0));
}

// ---------------------------------------------------------------- in place

TEST(InPlace, FillHonoursStridesAndDtype) {
  Tensor x = zeros({3, 4});
  x.t().slice(0, 0, 4, 3).fill_(2.0);  // columns 0 and 3
  EXPECT_TRUE(all_close(x, {2, 0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 2}, 0, 0));
  Tensor i = zeros({2}, kInt64);
  i.fill_(3.9);
  EXPECT_TRUE(all_close(i, {3, 3}, 0, 0));
  x.zero_();
  EXPECT_TRUE(all_close(x, std::vector<double>(12, 0.0), 0, 0));
}

TEST(InPlace, CopyBroadcastsTheSource) {
  Tensor x = zeros({2, 3});
  x.copy_(from_vector({1, 2, 3}, {3}));
  EXPECT_TRUE(all_close(x, {1, 2, 3, 1, 2, 3}, 0, 0));
  x.copy_(from_vector({7, 8}, {2, 1}));
  EXPECT_TRUE(all_close(x, {7, 7, 7, 8, 8, 8}, 0, 0));
  x.copy_(scalar_tensor(-1.0));
  EXPECT_TRUE(all_close(x, std::vector<double>(6, -1.0), 0, 0));
  // A transposed source, a strided destination, a dtype change.
  x.copy_(from_vector({1, 2, 3, 4, 5, 6}, {3, 2}).t());
  EXPECT_TRUE(all_close(x, {1, 3, 5, 2, 4, 6}, 0, 0));
  Tensor y = zeros({2, 4});
  y.slice(1, 0, 4, 2).copy_(from_vector_i64({9, 8, 7, 6}, {2, 2}));
  EXPECT_TRUE(all_close(y, {9, 0, 8, 0, 7, 0, 6, 0}, 0, 0));
  Tensor b = zeros({2}, kBFloat16);
  b.copy_(from_vector({1.5f, 3.14159265f}, {2}));
  EXPECT_TRUE(all_close(b, {1.5, 3.140625}, 0, 0));
}

TEST(InPlace, CopyIsNotRecorded) {
  Tensor x = zeros({3});
  Tensor src = leaf(from_vector({1, 2, 3}, {3}));
  x.copy_(src);
  EXPECT_FALSE(x.requires_grad());
  EXPECT_FALSE(x.grad_fn());
}

TEST(Copies, CloneAndDetach) {
  Tensor x = from_vector({1, 2, 3, 4}, {2, 2});
  Tensor c = x.clone();
  EXPECT_FALSE(c.shares_storage_with(x));
  c.fill_(0.0);
  EXPECT_TRUE(all_close(x, {1, 2, 3, 4}, 0, 0));
  Tensor ct = x.t().clone();
  EXPECT_TRUE(all_close(ct, {1, 3, 2, 4}, 0, 0));

  Tensor r = leaf(from_vector({1, 2}, {2}));
  Tensor d = (r * 2.0).detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_FALSE(d.grad_fn());
  Tensor dr = r.detach();
  EXPECT_TRUE(dr.shares_storage_with(r));
  EXPECT_FALSE(dr.requires_grad());
}

TEST(Accessors, ItemAtAndData) {
  Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(x.size(0), 2);
  EXPECT_EQ(x.size(-1), 3);
  EXPECT_EQ(x.stride(0), 3);
  EXPECT_EQ(x.stride(-1), 1);
  EXPECT_EQ(x.at({1, 0}), 4.0);
  EXPECT_EQ(x.t().at({2, 1}), 6.0);
  EXPECT_EQ(x.data<float>()[5], 6.0f);
  EXPECT_TRUE(throws_error_naming([&] { x.data<int64_t>(); }, "float32"));
  EXPECT_TRUE(throws_error_naming([&] { x.item(); }, "item"));
  EXPECT_TRUE(throws_error_naming([&] { x.at({2, 0}); }, "at"));
  EXPECT_TRUE(throws_error_naming([&] { x.at({0}); }, "at"));
  EXPECT_TRUE(throws_error_naming([&] { x.size(2); }, "size"));
  EXPECT_EQ(from_vector({7}, {1, 1}).item(), 7.0);
  EXPECT_TRUE(throws_error_naming([] { Tensor().shape(); }, "undefined"));
  EXPECT_FALSE(Tensor().defined());
}

TEST(Storage, AlignedAllocation) {
  for (Shape shape : {Shape{1}, Shape{3, 5}, Shape{1000}}) {
    Tensor t = empty(shape);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % 64, 0u) << shape_str(shape);
    EXPECT_GE(t.storage()->nbytes(), static_cast<size_t>(t.numel()) * 4);
  }
}

}  // namespace
}  // namespace attnkit::testing
