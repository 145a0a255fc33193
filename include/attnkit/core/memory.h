#pragma once
// The cache of large memory blocks behind tensors.
//
// A fresh block from the system costs a page fault per 4 KiB page on first
// touch: about 0.7 ms per MB here, 70 ms for one (32, 256, 56, 56) activation
// — more than the convolution that fills it. Training allocates the same
// large shapes every step, so blocks of 1 MiB and more that tensors free are
// kept and handed out again to a request of the same size or up to a quarter
// smaller, until the cache holds `cache_limit()` bytes; then the largest
// kept blocks go back to the system first. Smaller blocks go to malloc,
// which reuses them itself. (PyTorch does this for GPU memory; on the CPU it
// leaves it to malloc, which returns large blocks to the system at once.)
//
// The limit is a quarter of the machine's memory, at most 8 GiB, or
// $ATTNKIT_CACHE_LIMIT_MB when set (0 turns the cache off). Builds with
// AddressSanitizer keep nothing, so a use after free is still caught.
#include <cstddef>

namespace attnkit {

// Returns every kept block to the system.
void empty_cache();
// Bytes kept for reuse now.
size_t cached_bytes();
size_t cache_limit();
// Frees kept blocks down to the new limit; 0 keeps none from now on.
void set_cache_limit(size_t bytes);

}  // namespace attnkit
