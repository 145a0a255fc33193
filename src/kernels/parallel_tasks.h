#pragma once
// Runs body(t) for t < tasks over the OpenMP threads and rethrows the first
// exception on the caller: an exception must not cross the parallel region.
//   parallel_tasks:             tasks handed out one at a time as threads free
//                               up, so tasks of uneven cost (causal attention
//                               blocks) balance. Which thread runs a task
//                               varies from run to run.
//   parallel_tasks_round_robin: task t always runs on thread t % team size,
//                               in increasing t. For tasks that add into a
//                               per-thread partial sum: the sums, and so the
//                               bits of the result, are the same every run
//                               (for the same thread count).

#include <cstdint>
#include <exception>

namespace attnkit::kernels {

namespace detail {
// body(t), keeping the first exception for the caller instead of letting it
// leave the parallel region.
template <typename Body>
void run_task(Body& body, int64_t t, std::exception_ptr& failure) {
  try {
    body(t);
  } catch (...) {
#pragma omp critical(attnkit_parallel_tasks_failure)
    failure = std::current_exception();
  }
}
}  // namespace detail

template <typename Body>
void parallel_tasks(int64_t tasks, Body body) {
  std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) detail::run_task(body, t, failure);
  if (failure) std::rethrow_exception(failure);
}

template <typename Body>
void parallel_tasks_round_robin(int64_t tasks, Body body) {
  std::exception_ptr failure;
#pragma omp parallel for schedule(static, 1) if (tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) detail::run_task(body, t, failure);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace attnkit::kernels
