#include "attnkit/core/exclusive_use.h"

#include <string>

#include "attnkit/core/error.h"

namespace attnkit {

ExclusiveUse::ExclusiveUse(const InUseFlag& flag, std::string_view what) : flag_(flag) {
  if (flag_.busy_.exchange(true, std::memory_order_acquire)) {
    throw StateError(std::string(what) +
                     ": this object is in use by another thread. It keeps state between calls, so one "
                     "object must not be called from several threads at once: give each thread its own");
  }
}

ExclusiveUse::~ExclusiveUse() { flag_.busy_.store(false, std::memory_order_release); }

}  // namespace attnkit
