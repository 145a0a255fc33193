// The fused attention kernels against the plain reference beside them
// (attention_forward_reference, sums in double), on every ISA path this CPU
// has (the AVX-512 tiles are also checked under emulation, in
// test_kernels_avx512_emulated.cpp): odd lengths and head dims, masks read through strides, causal cuts
// with offsets, grouped K/V, and strided rows.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attnkit/core/threading.h"
#include "isa_scope.h"
#include "kernels/attention_tiles.h"
#include "random_floats.h"
#include "kernels/flash_attention.h"

namespace attnkit::kernels {
namespace {


enum class MaskKind { None, Bool, Float };

struct Problem {
  int64_t batch_heads, queries, keys, head_dim, value_dim;
  bool causal = false;
  int64_t causal_offset = 0;
  MaskKind mask = MaskKind::None;
  int64_t kv_groups = 1;    // query problems sharing one K/V (GQA)
  int64_t row_padding = 0;  // extra floats between rows of q, k, v and out
  float dropout = 0.0f;
};

std::string describe(const Problem& c) {
  return "BH=" + std::to_string(c.batch_heads) + " L=" + std::to_string(c.queries) + " S=" +
         std::to_string(c.keys) + " E=" + std::to_string(c.head_dim) + " Ev=" + std::to_string(c.value_dim) +
         (c.causal ? " causal+" + std::to_string(c.causal_offset) : "") + " mask=" +
         std::to_string(static_cast<int>(c.mask)) + " groups=" + std::to_string(c.kv_groups) +
         " pad=" + std::to_string(c.row_padding) + " dropout=" + std::to_string(c.dropout);
}

void expect_near_all(const std::vector<float>& actual, const std::vector<float>& expected, double tolerance,
                     const std::string& what) {
  double scale = 0.0;  // gradients are compared relative to their largest entry
  for (float x : expected) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], tolerance * (1.0 + scale)) << what << " at " << i;
  }
}

// Runs the fused kernels and the references on one random problem and
// compares output, lse and the three gradients.
void check_problem(const Problem& c, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t kv_problems = (c.batch_heads + c.kv_groups - 1) / c.kv_groups;
  const int64_t q_stride = c.head_dim + c.row_padding, k_stride = c.head_dim + c.row_padding;
  const int64_t v_stride = c.value_dim + c.row_padding, out_stride = c.value_dim + c.row_padding;
  std::vector<float> q = normal_floats(static_cast<size_t>(c.batch_heads * c.queries * q_stride), rng);
  std::vector<float> k = normal_floats(static_cast<size_t>(kv_problems * c.keys * k_stride), rng);
  std::vector<float> v = normal_floats(static_cast<size_t>(kv_problems * c.keys * v_stride), rng);
  std::vector<int64_t> q_off, k_off, v_off, out_off, mask_off;
  for (int64_t b = 0; b < c.batch_heads; ++b) {
    q_off.push_back(b * c.queries * q_stride);
    k_off.push_back(b / c.kv_groups * c.keys * k_stride);
    v_off.push_back(b / c.kv_groups * c.keys * v_stride);
    out_off.push_back(b * c.queries * out_stride);
    mask_off.push_back(0);  // one (L, S) mask broadcast over the problems
  }
  // The mask is stored transposed (S, L) to exercise the strided read.
  std::vector<char> bool_mask(static_cast<size_t>(c.queries * c.keys));
  std::vector<float> float_mask = normal_floats(bool_mask.size(), rng, 2.0f);
  std::bernoulli_distribution keep(0.7);
  for (char& m : bool_mask) m = keep(rng);
  if (!bool_mask.empty()) bool_mask[0] = 0;  // row 0 loses key 0; some rows may lose every key

  FlashAttentionParams p;
  p.batch_heads = c.batch_heads;
  p.queries = c.queries; p.keys = c.keys; p.head_dim = c.head_dim; p.value_dim = c.value_dim;
  p.q = q.data(); p.k = k.data(); p.v = v.data();
  p.q_offsets = q_off.data(); p.k_offsets = k_off.data(); p.v_offsets = v_off.data();
  p.out_offsets = out_off.data();
  p.q_row_stride = q_stride; p.k_row_stride = k_stride; p.v_row_stride = v_stride; p.out_row_stride = out_stride;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  p.causal = c.causal;
  p.causal_offset = c.causal_offset;
  p.dropout = {c.dropout, seed * 7919ull, 3};
  if (c.mask != MaskKind::None) {
    p.mask_offsets = mask_off.data();
    p.mask_row_stride = 1;
    p.mask_col_stride = c.queries;
    if (c.mask == MaskKind::Bool) p.bool_mask = reinterpret_cast<const bool*>(bool_mask.data());
    else p.float_mask = float_mask.data();
  }

  const size_t out_size = static_cast<size_t>(c.batch_heads * c.queries * out_stride);
  const size_t lse_size = static_cast<size_t>(c.batch_heads * c.queries);
  std::vector<float> expected(out_size, 0.0f), expected_lse(lse_size);
  p.out = expected.data(); p.lse = expected_lse.data();
  attention_forward_reference(p);

  std::vector<float> dout = normal_floats(out_size, rng);
  const size_t dq_size = static_cast<size_t>(c.batch_heads * c.queries * c.head_dim);
  const size_t dk_size = static_cast<size_t>(c.batch_heads * c.keys * c.head_dim);
  const size_t dv_size = static_cast<size_t>(c.batch_heads * c.keys * c.value_dim);
  std::vector<float> expected_dq(dq_size), expected_dk(dk_size), expected_dv(dv_size);
  FlashAttentionGrads g;
  g.dout = dout.data(); g.dout_offsets = out_off.data(); g.dout_row_stride = out_stride;
  g.dq = expected_dq.data(); g.dk = expected_dk.data(); g.dv = expected_dv.data();
  attention_backward_reference(p, g);

  for (Isa isa : kAllIsas) {
    if (!cpu_has(isa)) continue;
    IsaScope scope(isa);
    std::vector<float> out(out_size, 0.0f), lse(lse_size);
    p.out = out.data(); p.lse = lse.data();
    flash_attention_forward(p);
    for (size_t i = 0; i < out_size; ++i) {
      ASSERT_NEAR(out[i], expected[i], 2e-5 + 2e-5 * std::fabs(expected[i]))
          << describe(c) << " isa=" << isa_name(isa) << " at " << i;
    }
    for (size_t i = 0; i < lse_size; ++i) {
      if (std::isinf(expected_lse[i])) {
        ASSERT_EQ(lse[i], expected_lse[i]) << describe(c) << " isa=" << isa_name(isa) << " lse row " << i;
      } else {
        ASSERT_NEAR(lse[i], expected_lse[i], 2e-5 + 2e-6 * std::fabs(expected_lse[i]))
            << describe(c) << " isa=" << isa_name(isa) << " lse row " << i;
      }
    }
    // The backward from this path's own forward output and lse.
    std::vector<float> dq(dq_size, 7.0f), dk(dk_size, 7.0f), dv(dv_size, 7.0f);
    g.dq = dq.data(); g.dk = dk.data(); g.dv = dv.data();
    flash_attention_backward(p, g);
    const std::string what = describe(c) + " isa=" + isa_name(isa);
    expect_near_all(dq, expected_dq, 2e-5, what + " dq");
    expect_near_all(dk, expected_dk, 2e-5, what + " dk");
    expect_near_all(dv, expected_dv, 2e-5, what + " dv");
  }
}

TEST(FlashAttentionKernel, MatchesReferenceOnOddShapes) {
  uint32_t seed = 1;
  // Lengths around the block sizes (48 queries, 128 keys, 16-wide panels) and primes.
  for (int64_t queries : {1, 5, 47, 49, 97}) {
    for (int64_t keys : {1, 15, 17, 128, 131, 257}) {
      check_problem({2, queries, keys, 24, 20}, seed++);
    }
  }
}

TEST(FlashAttentionKernel, MatchesReferenceOnHeadDims) {
  uint32_t seed = 100;
  for (int64_t dim : {1, 8, 16, 33, 64, 128, 200, 256}) {
    check_problem({1, 53, 141, dim, dim}, seed++);
    check_problem({1, 19, 40, dim, dim == 1 ? 3 : dim / 2 + 1}, seed++);  // Ev != E
  }
}

TEST(FlashAttentionKernel, MatchesReferenceWithMasks) {
  uint32_t seed = 200;
  for (MaskKind mask : {MaskKind::Bool, MaskKind::Float}) {
    for (int64_t keys : {3, 130, 300}) check_problem({3, 61, keys, 32, 32, false, 0, mask}, seed++);
  }
}

TEST(FlashAttentionKernel, MatchesReferenceCausal) {
  uint32_t seed = 300;
  for (int64_t queries : {1, 50, 130}) {
    for (int64_t keys : {1, 50, 130, 270}) {
      // Offset 0 is PyTorch's top-left alignment; keys - queries aligns bottom-right
      // (a KV cache); a negative offset leaves the first rows with nothing to see.
      for (int64_t offset : {int64_t{0}, keys - queries, int64_t{-3}}) {
        check_problem({2, queries, keys, 16, 16, true, offset}, seed++);
      }
    }
  }
  check_problem({2, 100, 200, 16, 16, true, 0, MaskKind::Bool}, seed++);
}

TEST(FlashAttentionKernel, MatchesReferenceGroupedAndStrided) {
  check_problem({6, 70, 150, 40, 24, false, 0, MaskKind::None, 3, 0}, 400);
  check_problem({4, 70, 150, 40, 24, true, 0, MaskKind::None, 2, 7}, 401);
  check_problem({3, 33, 65, 64, 64, false, 0, MaskKind::Float, 1, 5}, 402);
}

TEST(FlashAttentionKernel, MatchesReferenceWithDropout) {
  uint32_t seed = 600;
  for (float dropout : {0.1f, 0.5f}) {
    check_problem({2, 61, 150, 32, 24, false, 0, MaskKind::None, 1, 0, dropout}, seed++);
    check_problem({3, 70, 70, 16, 16, true, 0, MaskKind::Bool, 3, 0, dropout}, seed++);
    check_problem({1, 5, 300, 64, 64, false, 0, MaskKind::Float, 1, 3, dropout}, seed++);
  }
}

TEST(AttentionDropout, KeepsTheExpectedFractionAndRowsAgreeWithEntries) {
  const int64_t rows = 200, keys = 1001;
  for (float p : {0.1f, 0.3f, 0.9f}) {
    AttentionDropout d{p, 1234, 17};
    int64_t kept = 0;
    std::vector<float> row(keys);
    for (int64_t r = 0; r < rows; ++r) {
      std::fill(row.begin(), row.end(), 1.0f);
      for (int64_t k0 = 0; k0 < keys; k0 += 64) {  // in blocks, as the kernels apply it
        apply_attention_dropout(d, r, keys, k0, std::min<int64_t>(64, keys - k0), row.data() + k0);
      }
      for (int64_t j = 0; j < keys; ++j) {
        ASSERT_EQ(row[j], attention_dropout_factor(d, r, keys, j)) << r << " " << j;
        kept += row[j] != 0.0f;
        if (row[j] != 0.0f) {
          ASSERT_FLOAT_EQ(row[j], 1.0f / (1.0f - p));
        }
      }
    }
    const double fraction = static_cast<double>(kept) / (rows * keys);
    EXPECT_NEAR(fraction, 1.0 - p, 0.005) << "p=" << p;  // 200k draws: sd < 0.0011
  }
  // Another seed, another mask.
  AttentionDropout a{0.5f, 1, 0}, b{0.5f, 2, 0};
  int differ = 0;
  for (int64_t j = 0; j < 256; ++j) differ += attention_dropout_factor(a, 0, 256, j) != attention_dropout_factor(b, 0, 256, j);
  EXPECT_GT(differ, 64);
}

TEST(FlashAttentionKernel, OneAndTwoThreads) {
  // 5 problems on 2 threads: 4 whole problems per thread, the fifth split by key blocks.
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    check_problem({5, 100, 300, 64, 64, true}, 500);
    check_problem({1, 70, 200, 32, 32, false, 0, MaskKind::Bool}, 501);
  }
  set_num_threads(2);
}

TEST(FlashAttentionKernel, FullyMaskedRowsGiveZerosAndMinusInfinityLse) {
  std::vector<float> q(2 * 4, 1.0f), k(3 * 4, 1.0f), v(3 * 4, 2.0f), out(2 * 4, 9.0f), lse(2, 0.0f);
  std::vector<char> mask{1, 0, 1, 0, 0, 0};  // row 1 sees nothing
  int64_t zero = 0;
  FlashAttentionParams p;
  p.batch_heads = 1; p.queries = 2; p.keys = 3; p.head_dim = 4; p.value_dim = 4;
  p.q = q.data(); p.k = k.data(); p.v = v.data(); p.out = out.data(); p.lse = lse.data();
  p.q_offsets = p.k_offsets = p.v_offsets = p.out_offsets = p.mask_offsets = &zero;
  p.q_row_stride = p.k_row_stride = p.v_row_stride = p.out_row_stride = 4;
  p.bool_mask = reinterpret_cast<const bool*>(mask.data());
  p.mask_row_stride = 3; p.mask_col_stride = 1;
  for (Isa isa : kAllIsas) {
    if (!cpu_has(isa)) continue;
    IsaScope scope(isa);
    flash_attention_forward(p);
    for (int d = 0; d < 4; ++d) {
      EXPECT_FLOAT_EQ(out[d], 2.0f);
      EXPECT_EQ(out[4 + d], 0.0f);
    }
    EXPECT_EQ(lse[1], -std::numeric_limits<float>::infinity());
  }
}

// The weights recomputed from the lse equal the reference forward's output
// with V = I (then out = the weights), for chosen problems, with masks.
TEST(FlashAttentionKernel, WeightsFromLseMatchReference) {
  const int64_t problems = 3, L = 53, S = 140, E = 24;
  std::mt19937 rng(9);
  std::vector<float> q = normal_floats(problems * L * E, rng), k = normal_floats(problems * S * E, rng);
  std::vector<float> identity(S * S, 0.0f);
  for (int64_t j = 0; j < S; ++j) identity[j * S + j] = 1.0f;
  std::vector<char> mask(L * S);
  std::bernoulli_distribution keep(0.6);
  for (char& m : mask) m = keep(rng);
  for (int64_t j = 0; j < S; ++j) mask[5 * S + j] = 0;  // row 5 sees nothing
  std::vector<int64_t> q_off, k_off, v_off, out_off;
  for (int64_t b = 0; b < problems; ++b) {
    q_off.push_back(b * L * E); k_off.push_back(b * S * E); v_off.push_back(0); out_off.push_back(b * L * S);
  }
  int64_t zero = 0;
  std::vector<int64_t> mask_off(problems, zero);
  for (bool causal : {false, true}) {
    FlashAttentionParams p;
    p.batch_heads = problems; p.queries = L; p.keys = S; p.head_dim = E; p.value_dim = S;
    p.q = q.data(); p.k = k.data(); p.v = identity.data();
    p.q_offsets = q_off.data(); p.k_offsets = k_off.data(); p.v_offsets = v_off.data(); p.out_offsets = out_off.data();
    p.q_row_stride = E; p.k_row_stride = E; p.v_row_stride = S; p.out_row_stride = S;
    p.scale = 0.3f;
    p.causal = causal;
    p.causal_offset = 40;
    if (!causal) {
      p.bool_mask = reinterpret_cast<const bool*>(mask.data());
      p.mask_offsets = mask_off.data(); p.mask_row_stride = S; p.mask_col_stride = 1;
    }
    std::vector<float> expected(problems * L * S), lse(problems * L);
    p.out = expected.data(); p.lse = lse.data();
    attention_forward_reference(p);
    for (Isa isa : kAllIsas) {
      if (!cpu_has(isa)) continue;
      IsaScope scope(isa);
      const std::vector<int64_t> chosen{2, 0};
      std::vector<float> weights(chosen.size() * L * S, -1.0f);
      attention_weights_from_lse(p, chosen.data(), 2, weights.data());
      for (size_t c = 0; c < chosen.size(); ++c) {
        for (int64_t x = 0; x < L * S; ++x) {
          ASSERT_NEAR(weights[c * L * S + x], expected[chosen[c] * L * S + x], 1e-6)
              << "causal=" << causal << " isa=" << isa_name(isa) << " slot " << c << " at " << x;
        }
      }
    }
  }
}

// Every vector set of this CPU against the scalar set.
TEST(AttentionTiles, VectorKernelsMatchScalar) {
  const AttentionTileKernels& plain = attention_tile_kernels(Isa::Scalar);
  for (Isa isa : {Isa::Avx512, Isa::Avx2}) {
    if (!cpu_has(isa)) continue;
    const AttentionTileKernels& fast = attention_tile_kernels(isa);
    std::mt19937 rng(11);
    const int64_t depth = 37, a_stride = 41;
    std::vector<float> a = normal_floats(static_cast<size_t>(kMaxTileRows * a_stride + depth * kMaxTileRows), rng);
    std::vector<float> panel = normal_floats(static_cast<size_t>(depth * kTileCols), rng);
    for (int rows = 1; rows <= fast.tile_rows; ++rows) {
      for (bool transposed : {false, true}) {  // A read row-major, then column-major
        const int64_t rs = transposed ? 1 : a_stride, cs = transposed ? kMaxTileRows : 1;
        for (bool accumulate : {false, true}) {
          std::vector<float> c1 = normal_floats(static_cast<size_t>(kMaxTileRows * 20), rng), c2 = c1;
          fast.tile(rows, depth, a.data(), rs, cs, panel.data(), c1.data(), 20, accumulate);
          plain.tile(rows, depth, a.data(), rs, cs, panel.data(), c2.data(), 20, accumulate);
          for (size_t i = 0; i < c1.size(); ++i) ASSERT_NEAR(c1[i], c2[i], 1e-4) << isa_name(isa) << rows << " " << i;
        }
      }
    }
    for (int64_t n : {1, 7, 16, 45}) {
      std::vector<float> row = normal_floats(static_cast<size_t>(n), rng, 5.0f);
      row[0] = -std::numeric_limits<float>::infinity();
      EXPECT_EQ(fast.row_max(row.data(), n), plain.row_max(row.data(), n)) << isa_name(isa) << " n=" << n;
      const float shift = std::max(0.0f, plain.row_max(row.data(), n));
      std::vector<float> e1 = row, e2 = row;
      const float s1 = fast.exp2_shifted_sum(e1.data(), n, shift), s2 = plain.exp2_shifted_sum(e2.data(), n, shift);
      EXPECT_NEAR(s1, s2, 1e-5 * s2 + 1e-30) << isa_name(isa);
      for (size_t i = 0; i < e1.size(); ++i) EXPECT_NEAR(e1[i], e2[i], 4e-7 * std::max(1.0f, e2[i])) << i;
      EXPECT_EQ(e1[0], 0.0f);
    }
  }
}

}  // namespace
}  // namespace attnkit::kernels
