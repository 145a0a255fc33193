// The Philox dropout kernel (kernels/philox_dropout.h): the AVX2 path, eight
// blocks at a time, gives the same bits as the reference built on
// philox_word, at every length, stream offset (including a carry into the
// counter's high word) and thread count; and the dropout op draws the mask
// that rand() would draw from the same generator state.
#include <cstring>

#include "isa_scope.h"
#include "kernels/philox_dropout.h"
#include "random_floats.h"
#include "test_support.h"

namespace attnkit::testing {
namespace {

using kernels::PhiloxDropout;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST(PhiloxDropoutKernel, VectorPathEqualsTheReference) {
  const uint64_t offsets[] = {0, 3, 1000, 0xFFFFFFFFull - 5, 0x1FFFFFFFDull};
  const int64_t lengths[] = {0, 1, 3, 4, 31, 32, 33, 100, 257, (1 << 15) + 7, (1 << 16) + 29};
  ThreadCountGuard threads;
  for (kernels::Isa isa : kernels::kAllIsas) {
    if (!kernels::cpu_has(isa)) continue;
    kernels::IsaScope scope(isa);
    for (int t : {1, 2}) {
      set_num_threads(t);
      for (uint64_t first : offsets) {
        for (int64_t n : lengths) {
          PhiloxDropout d{0x123456789ABCDEFull ^ first, first, 0.3f, 1.0f / 0.7f};
          std::mt19937 rng(static_cast<uint32_t>(n + first));
          std::vector<float> in = kernels::normal_floats(static_cast<size_t>(n), rng);
          std::vector<float> want(in.size()), got(in.size()), serial(in.size());
          kernels::philox_dropout_reference(d, in.data(), want.data(), n);
          kernels::philox_dropout(d, in.data(), got.data(), n);
          kernels::philox_dropout_serial(d, in.data(), serial.data(), n);
          EXPECT_TRUE(same_bits(got, want)) << kernels::isa_name(isa) << " n " << n << " first " << first;
          EXPECT_TRUE(same_bits(serial, want)) << kernels::isa_name(isa) << " n " << n << " first " << first;
          std::vector<float> in_place = in;
          kernels::philox_dropout(d, in_place.data(), in_place.data(), n);
          EXPECT_TRUE(same_bits(in_place, want)) << "in place, n " << n;
        }
      }
    }
  }
}

TEST(PhiloxDropoutKernel, KeepBitsRecordTheMaskAndReplayIt) {
  ThreadCountGuard threads;
  for (kernels::Isa isa : kernels::kAllIsas) {
    if (!kernels::cpu_has(isa)) continue;
    kernels::IsaScope scope(isa);
    for (int t : {1, 2}) {
      set_num_threads(t);
      for (int64_t n : {1, 7, 8, 33, 100, (1 << 15) + 13, (1 << 16) + 40}) {
        const PhiloxDropout d{42, 17, 0.4f, 1.0f / 0.6f};
        std::mt19937 rng(static_cast<uint32_t>(n));
        std::vector<float> in = kernels::normal_floats(static_cast<size_t>(n), rng);
        std::vector<float> out(in.size()), want(in.size());
        std::vector<uint8_t> bits(static_cast<size_t>((n + 7) / 8), 0);
        kernels::philox_dropout(d, in.data(), out.data(), n, bits.data());
        kernels::philox_dropout_reference(d, in.data(), want.data(), n);
        ASSERT_TRUE(same_bits(out, want)) << kernels::isa_name(isa) << " n " << n;
        for (int64_t i = 0; i < n; ++i) {
          const bool kept = uint_to_unit_float(philox_word(d.seed, d.first_block, static_cast<uint64_t>(i))) >= d.p;
          ASSERT_EQ(((bits[static_cast<size_t>(i / 8)] >> (i % 8)) & 1) != 0, kept) << "n " << n << " i " << i;
        }
        // Replaying the bits on another input is the backward.
        std::vector<float> g = kernels::normal_floats(static_cast<size_t>(n), rng), replay(in.size()),
                           replay_ref(in.size()), redraw(in.size());
        kernels::apply_keep_bits(bits.data(), d.scale, g.data(), replay.data(), n);
        kernels::apply_keep_bits_reference(bits.data(), d.scale, g.data(), replay_ref.data(), n);
        kernels::philox_dropout_reference(d, g.data(), redraw.data(), n);
        EXPECT_TRUE(same_bits(replay, replay_ref)) << kernels::isa_name(isa) << " n " << n;
        EXPECT_TRUE(same_bits(replay, redraw)) << kernels::isa_name(isa) << " n " << n;
      }
    }
  }
}

TEST(PhiloxDropoutKernel, KeepsAboutOneMinusPAndScalesThem) {
  const int64_t n = 1 << 18;
  std::vector<float> in(n, 1.0f), out(n);
  kernels::philox_dropout({7, 0, 0.25f, 4.0f / 3.0f}, in.data(), out.data(), n);
  int64_t kept = 0;
  for (float v : out) {
    ASSERT_TRUE(v == 0.0f || v == 4.0f / 3.0f) << v;
    kept += v != 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.75, 0.005);
}

TEST(PhiloxDropoutKernel, NanInputsStayNanLikeAMultiplication) {
  std::vector<float> in(64, std::nanf("")), out(64);
  kernels::philox_dropout({1, 0, 0.5f, 2.0f}, in.data(), out.data(), 64);
  for (float v : out) EXPECT_TRUE(std::isnan(v));
}

TEST(PhiloxDropoutOp, MaskIsTheOneRandWouldDraw) {
  // dropout(x) keeps element i exactly when the i-th number rand(x.shape())
  // draws from the same generator state is >= p.
  Generator a(99), b(99);
  Tensor x = randn_tensor({37, 41}, 3);
  Tensor y = dropout(x, 0.35, true, &a);
  std::vector<double> u = values(rand({37, 41}, &b)), xv = values(x), yv = values(y);
  for (size_t i = 0; i < u.size(); ++i) {
    const double want = u[i] >= 0.35f ? static_cast<double>(static_cast<float>(xv[i]) * (1.0f / 0.65f)) : 0.0;
    ASSERT_DOUBLE_EQ(yv[i], want) << i;
  }
}

TEST(PhiloxDropoutOp, BackwardAppliesTheForwardMask) {
  Generator gen(4);
  Tensor x = leaf(randn_tensor({300, 70}, 8));
  Tensor y = dropout(x, 0.5, true, &gen);
  Tensor upstream = randn_tensor({300, 70}, 9);
  y.backward(upstream);
  std::vector<double> yv = values(y), xv = values(x), g = values(x.grad()), up = values(upstream);
  for (size_t i = 0; i < yv.size(); ++i) {
    const bool kept = yv[i] != 0.0 || xv[i] == 0.0;
    ASSERT_DOUBLE_EQ(g[i], kept ? static_cast<double>(static_cast<float>(up[i]) * 2.0f) : 0.0) << i;
  }
}

}  // namespace
}  // namespace attnkit::testing
