#include "attnkit/core/storage.h"

#include <cstdlib>
#include <new>

#include "attnkit/core/error.h"
#include "attnkit/core/memory.h"
#include "memory_cache.h"

namespace attnkit {

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  constexpr size_t kAlignment = 64;
  if (nbytes > (size_t{1} << 62)) {
    throw Error(detail::concat("allocate: refusing to allocate ", nbytes, " bytes"));
  }
  size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  size_t capacity = rounded;
  void* data = detail::take_cached_block(rounded, &capacity);  // large blocks: reuse (core/memory.h)
  if (data == nullptr) data = std::aligned_alloc(kAlignment, rounded);
  if (data == nullptr) {
    empty_cache();  // kept blocks may be what is missing
    data = std::aligned_alloc(kAlignment, rounded);
  }
  if (data == nullptr) {
    throw Error(detail::concat("allocate: out of memory allocating ", nbytes, " bytes"));
  }
  return std::shared_ptr<Storage>(
      new Storage(data, nbytes, [capacity](void* p) { detail::release_block(p, capacity); }));
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t nbytes,
                                         std::function<void(void*)> release) {
  return std::shared_ptr<Storage>(new Storage(data, nbytes, std::move(release)));
}

Storage::~Storage() {
  if (release_) release_(data_);
}

}  // namespace attnkit
