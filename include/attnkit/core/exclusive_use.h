#pragma once
// For objects that keep state between calls and write it in a call (a vision
// block's last attention map, a KV cache's length, running statistics, an
// optimizer's moments): such an object belongs to one thread at a time. A
// call that writes the state holds an ExclusiveUse of the object's flag, so a
// second thread calling the same object at the same moment gets a
// StateError naming the object instead of a silently mixed state. It costs
// one uncontended atomic exchange per call; it is a misuse detector, not a
// lock: the second caller fails, it does not wait.

#include <atomic>
#include <string_view>

namespace attnkit {

class InUseFlag {
 public:
  InUseFlag() = default;
  // A copy is another object, not in use.
  InUseFlag(const InUseFlag&) {}
  InUseFlag& operator=(const InUseFlag&) { return *this; }

 private:
  friend class ExclusiveUse;
  mutable std::atomic<bool> busy_{false};
};

class ExclusiveUse {
 public:
  // `what` names the object and its call, e.g. "KVCache.append".
  ExclusiveUse(const InUseFlag& flag, std::string_view what);
  ~ExclusiveUse();
  ExclusiveUse(const ExclusiveUse&) = delete;
  ExclusiveUse& operator=(const ExclusiveUse&) = delete;

 private:
  const InUseFlag& flag_;
};

}  // namespace attnkit
