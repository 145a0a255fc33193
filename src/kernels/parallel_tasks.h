#pragma once
// Runs body(t) for t < tasks over the OpenMP threads, handed out one at a time
// (tasks of uneven cost, such as causal attention blocks, balance), and
// rethrows the first exception on the caller: an exception must not cross
// the parallel region.

#include <cstdint>
#include <exception>

namespace attnkit::kernels {

template <typename Body>
void parallel_tasks(int64_t tasks, Body body) {
  std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    try {
      body(t);
    } catch (...) {
#pragma omp critical(attnkit_parallel_tasks_failure)
      failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace attnkit::kernels
