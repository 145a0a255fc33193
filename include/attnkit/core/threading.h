#pragma once
// One OpenMP thread pool, shared by attnkit's kernels and oneDNN (built with
// the OpenMP runtime), so the two never oversubscribe the cores.

namespace attnkit {

// Sets the number of threads for later ops on the calling thread (n >= 1).
void set_num_threads(int n);
int get_num_threads();

}  // namespace attnkit
