#include "attnkit/core/rng.h"

#include <cmath>

namespace attnkit {

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(kMul0) * ctr[0];
    uint64_t p1 = static_cast<uint64_t>(kMul1) * ctr[2];
    ctr = {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<uint32_t>(p1),
           static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<uint32_t>(p0)};
    key[0] += kWeyl0;
    key[1] += kWeyl1;
  }
  return ctr;
}

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard lock(mutex_);
  seed_ = seed;
  offset_ = 0;
}

Generator::Range Generator::reserve(uint64_t blocks) {
  std::lock_guard lock(mutex_);
  Range range{seed_, offset_};
  offset_ += blocks;
  return range;
}

Generator::Range Generator::state() {
  std::lock_guard lock(mutex_);
  return Range{seed_, offset_};
}

uint64_t Generator::seed() const {
  std::lock_guard lock(mutex_);
  return seed_;
}

void Generator::set_state(const Range& state) {
  std::lock_guard lock(mutex_);
  seed_ = state.seed;
  offset_ = state.first_block;
}

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {
thread_local Generator* scoped_generator = nullptr;

Generator& pick(Generator* generator) { return generator ? *generator : current_generator(); }
}  // namespace

Generator& current_generator() { return scoped_generator ? *scoped_generator : default_generator(); }

GeneratorScope::GeneratorScope(Generator& generator) : previous_(scoped_generator) {
  scoped_generator = &generator;
}
GeneratorScope::~GeneratorScope() { scoped_generator = previous_; }

Tensor uniform(const Shape& shape, double low, double high, Generator* generator) {
  Tensor out = empty(shape, kFloat32);
  const int64_t n = out.numel();
  Generator& gen = pick(generator);
  const auto [seed, first] = gen.reserve(static_cast<uint64_t>((n + 3) / 4));
  float* data = out.data<float>();
  const float lo = static_cast<float>(low), span = static_cast<float>(high - low);
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < (n + 3) / 4; ++b) {
    uint64_t block = first + static_cast<uint64_t>(b);
    auto words = philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0, 0},
                            {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
    for (int64_t j = 0; j < 4 && b * 4 + j < n; ++j) {
      data[b * 4 + j] = lo + span * uint_to_unit_float(words[j]);
    }
  }
  return out;
}

Tensor rand(const Shape& shape, Generator* generator) { return uniform(shape, 0.0, 1.0, generator); }

Tensor randn(const Shape& shape, Generator* generator) {
  // Box-Muller: each Philox block gives 4 words = 2 pairs = 4 normals.
  Tensor out = empty(shape, kFloat32);
  const int64_t n = out.numel();
  Generator& gen = pick(generator);
  const auto [seed, first] = gen.reserve(static_cast<uint64_t>((n + 3) / 4));
  float* data = out.data<float>();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < (n + 3) / 4; ++b) {
    uint64_t block = first + static_cast<uint64_t>(b);
    auto words = philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0, 0},
                            {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
    for (int pair = 0; pair < 2; ++pair) {
      // u1 in (0, 1] so log(u1) is finite.
      double u1 = (static_cast<double>(words[2 * pair]) + 1.0) / 4294967296.0;
      double u2 = static_cast<double>(words[2 * pair + 1]) / 4294967296.0;
      double radius = std::sqrt(-2.0 * std::log(u1));
      double angle = 2.0 * M_PI * u2;
      int64_t i = b * 4 + pair * 2;
      if (i < n) data[i] = static_cast<float>(radius * std::cos(angle));
      if (i + 1 < n) data[i + 1] = static_cast<float>(radius * std::sin(angle));
    }
  }
  return out;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* generator) {
  AK_CHECK(high > low, "randint: expected low < high, got low=", low, " high=", high);
  Tensor out = empty(shape, kInt64);
  const int64_t n = out.numel();
  Generator& gen = pick(generator);
  const auto [seed, first] = gen.reserve(static_cast<uint64_t>((2 * n + 3) / 4));
  const uint64_t range = static_cast<uint64_t>(high - low);
  int64_t* data = out.data<int64_t>();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    // Two words per value: 64 random bits, so the modulo bias is negligible.
    uint64_t hi = philox_word(seed, first, static_cast<uint64_t>(2 * i));
    uint64_t lo = philox_word(seed, first, static_cast<uint64_t>(2 * i + 1));
    data[i] = low + static_cast<int64_t>(((hi << 32) | lo) % range);
  }
  return out;
}

}  // namespace attnkit
