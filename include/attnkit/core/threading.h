#pragma once
// One OpenMP thread pool, shared by attnkit's kernels and oneDNN (built with
// the OpenMP runtime), so the two never oversubscribe the cores.

namespace attnkit {

// Sets the number of threads for later ops on the calling thread (n >= 1),
// as omp_set_num_threads does: other threads keep theirs, and a new thread
// starts from OMP_NUM_THREADS (or all cores). Each thread that calls attnkit
// runs its ops on a pool of its own, so T threads calling at once each
// want about cores / T.
void set_num_threads(int n);
int get_num_threads();

}  // namespace attnkit
