// Uses attnkit as an installed package: headers, the shared library, the
// autograd engine, and exceptions thrown across the library boundary.
#include <attnkit/attnkit.h>

#include <cmath>
#include <cstdio>

namespace ak = attnkit;

int main() {
  ak::Tensor a = ak::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});    // (2, 3)
  ak::Tensor b = ak::from_vector({1, 0, 0, 1, 1, 1}, {3, 2});    // (3, 2)
  ak::Tensor c = ak::matmul(a, b);                               // (2, 2)
  const double expected[2][2] = {{4, 5}, {10, 11}};
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 2; ++j)
      if (std::abs(c.at({i, j}) - expected[i][j]) > 1e-6) {
        std::printf("matmul: c[%lld][%lld] = %g, expected %g\n", static_cast<long long>(i),
                    static_cast<long long>(j), c.at({i, j}), expected[i][j]);
        return 1;
      }

  ak::Tensor x = ak::from_vector({1, -2, 3}, {3});
  x.set_requires_grad(true);
  ak::sum(x * x).backward();
  for (int64_t i = 0; i < 3; ++i)
    if (x.grad().at({i}) != 2 * x.at({i})) {
      std::printf("autograd: wrong gradient at %lld\n", static_cast<long long>(i));
      return 1;
    }

  try {
    ak::matmul(a, a);
    std::printf("matmul of (2, 3) and (2, 3) did not throw\n");
    return 1;
  } catch (const ak::Error& e) {
    std::printf("caught: %s\n", e.what());
  }
  std::printf("attnkit downstream ok\n");
  return 0;
}
