#include "attnkit/core/storage.h"

#include <cstdlib>
#include <new>

#include "attnkit/core/error.h"

namespace attnkit {

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  constexpr size_t kAlignment = 64;
  if (nbytes > (size_t{1} << 62)) {
    throw Error(detail::concat("allocate: refusing to allocate ", nbytes, " bytes"));
  }
  size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* data = std::aligned_alloc(kAlignment, rounded);
  if (data == nullptr) {
    throw Error(detail::concat("allocate: out of memory allocating ", nbytes, " bytes"));
  }
  return std::shared_ptr<Storage>(new Storage(data, nbytes, [](void* p) { std::free(p); }));
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t nbytes,
                                         std::function<void(void*)> release) {
  return std::shared_ptr<Storage>(new Storage(data, nbytes, std::move(release)));
}

Storage::~Storage() {
  if (release_) release_(data_);
}

}  // namespace attnkit
