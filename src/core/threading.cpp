#include "attnkit/core/threading.h"

#include <omp.h>

#include <algorithm>

#include "attnkit/core/error.h"

namespace attnkit {

void set_num_threads(int n) {
  AK_CHECK(n >= 1, "set_num_threads: expected a positive thread count, got ", n);
  const int limit = std::max(1024, 4 * omp_get_num_procs());
  AK_CHECK(n <= limit, "set_num_threads: ", n, " threads is more than this machine can use (at most ",
           limit, ")");
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace attnkit
