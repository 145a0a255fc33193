#pragma once
// Random float vectors for the kernel tests (no attnkit headers: the SIMDe
// test includes this too).

#include <random>
#include <vector>

namespace attnkit::kernels {

inline std::vector<float> normal_floats(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

}  // namespace attnkit::kernels
