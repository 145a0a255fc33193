#pragma once
// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
//
// Element i of a draw is a pure function of (seed, offset + i / 4): the same
// seed gives the same numbers whatever the thread count or schedule. A
// Generator hands out disjoint counter ranges, advancing its offset per draw.

#include <array>
#include <cstdint>
#include <mutex>

#include "attnkit/core/tensor.h"

namespace attnkit {

// One Philox4x32-10 block: 4 random 32-bit words for (counter, key).
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// Uniform float in [0, 1) from 32 random bits (24 significant bits).
inline float uint_to_unit_float(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed);
  uint64_t seed() const;
  // Reserves `blocks` Philox blocks: the seed and the first block's counter,
  // read together so a concurrent manual_seed cannot mix two streams.
  struct Range {
    uint64_t seed;
    uint64_t first_block;
  };
  Range reserve(uint64_t blocks);
  // The whole state (seed and next counter), for checkpoints: restoring it
  // makes the generator continue exactly where it was.
  Range state();
  void set_state(const Range& state);

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
  mutable std::mutex mutex_;
};

// The process-wide generator. It is safe to draw from in several threads at
// once, but then which thread gets which numbers depends on timing.
Generator& default_generator();
void manual_seed(uint64_t seed);

// The generator that draws made without an explicit one (dropout, random
// initialisation, rand/randn) use on the calling thread: the innermost
// GeneratorScope of this thread, else default_generator().
Generator& current_generator();

// While alive, makes `generator` this thread's current_generator() (other
// threads are not affected). A thread that trains its own model under its
// own scope draws the same numbers whatever other threads do:
//
//   Generator gen(seed);
//   GeneratorScope scope(gen);   // dropout masks, initial weights, randn: all from gen
//
// `generator` must outlive the scope; scopes nest and must end in reverse order.
class GeneratorScope {
 public:
  explicit GeneratorScope(Generator& generator);
  ~GeneratorScope();
  GeneratorScope(const GeneratorScope&) = delete;
  GeneratorScope& operator=(const GeneratorScope&) = delete;

 private:
  Generator* previous_;
};

// The `index`-th 32-bit word of the stream (seed, first_block).
inline uint32_t philox_word(uint64_t seed, uint64_t first_block, uint64_t index) {
  uint64_t block = first_block + index / 4;
  auto words = philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0, 0},
                          {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  return words[index % 4];
}

// Uniform [low, high) and standard normal tensors (float32).
Tensor rand(const Shape& shape, Generator* generator = nullptr);
Tensor uniform(const Shape& shape, double low, double high, Generator* generator = nullptr);
Tensor randn(const Shape& shape, Generator* generator = nullptr);
// Integers uniform in [low, high), int64.
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* generator = nullptr);

}  // namespace attnkit
