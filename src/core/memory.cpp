#include "attnkit/core/memory.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "attnkit/core/storage.h"
#include "memory_cache.h"

namespace attnkit {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

size_t default_limit() {
  if (kSanitized) return 0;
  if (const char* env = std::getenv("ATTNKIT_CACHE_LIMIT_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0') return static_cast<size_t>(mb) << 20;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t physical = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  return std::min(physical / 4, size_t{8} << 30);
}

class LargeBlockCache {
 public:
  // A kept block of at least `bytes` and at most a third more, or null.
  void* take(size_t bytes, size_t* capacity) {
    std::lock_guard lock(mutex_);
    auto it = blocks_.lower_bound(bytes);
    if (it == blocks_.end() || it->first > bytes + bytes / 3) return nullptr;
    void* data = it->second;
    *capacity = it->first;
    cached_ -= it->first;
    blocks_.erase(it);
    return data;
  }

  // Keeps the block, making room by freeing the largest kept ones; false
  // (the caller frees it) when it would not fit under the limit at all.
  bool give(void* data, size_t capacity) {
    std::lock_guard lock(mutex_);
    if (capacity > limit_) return false;
    while (cached_ + capacity > limit_) free_largest();
    blocks_.emplace(capacity, data);
    cached_ += capacity;
    return true;
  }

  // Frees every kept block; the limit stays.
  void clear() {
    std::lock_guard lock(mutex_);
    while (!blocks_.empty()) free_largest();
  }

  void set_limit(size_t bytes) {
    std::lock_guard lock(mutex_);
    limit_ = kSanitized ? 0 : bytes;
    while (cached_ > limit_) free_largest();
  }

  size_t cached() {
    std::lock_guard lock(mutex_);
    return cached_;
  }
  size_t limit() {
    std::lock_guard lock(mutex_);
    return limit_;
  }

 private:
  void free_largest() {
    auto last = std::prev(blocks_.end());
    std::free(last->second);
    cached_ -= last->first;
    blocks_.erase(last);
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> blocks_;  // capacity -> block
  size_t cached_ = 0;
  size_t limit_ = default_limit();
};

// Never destroyed: tensors held by static objects are freed after main, and
// must still find their cache.
LargeBlockCache& cache() {
  static LargeBlockCache* instance = new LargeBlockCache();
  return *instance;
}

}  // namespace

namespace detail {

void* take_cached_block(size_t bytes, size_t* capacity) {
  return bytes >= kCachedBlockMinBytes ? cache().take(bytes, capacity) : nullptr;
}

void release_block(void* data, size_t capacity) {
  if (capacity < kCachedBlockMinBytes || !cache().give(data, capacity)) std::free(data);
}

}  // namespace detail

void empty_cache() { cache().clear(); }

size_t cached_bytes() { return cache().cached(); }
size_t cache_limit() { return cache().limit(); }
void set_cache_limit(size_t bytes) { cache().set_limit(bytes); }

}  // namespace attnkit
