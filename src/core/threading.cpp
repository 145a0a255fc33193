#include "attnkit/core/threading.h"

#include <omp.h>

#include "attnkit/core/error.h"

namespace attnkit {

void set_num_threads(int n) {
  AK_CHECK(n >= 1, "set_num_threads: expected a positive thread count, got ", n);
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace attnkit
