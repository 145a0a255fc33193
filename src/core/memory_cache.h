#pragma once
// Between Storage::allocate and the large-block cache (attnkit/core/memory.h).
#include <cstddef>

namespace attnkit::detail {

inline constexpr size_t kCachedBlockMinBytes = size_t{1} << 20;

// A kept block of at least `bytes` (its size in *capacity), or null.
void* take_cached_block(size_t bytes, size_t* capacity);
// Keeps a block of `capacity` bytes for reuse, or frees it.
void release_block(void* data, size_t capacity);

}  // namespace attnkit::detail
