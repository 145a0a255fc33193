#pragma once
// What every oneDNN kernel shares: the CPU engine, a stream per thread, the
// attribute that makes a cached primitive safe to run from several threads at
// once, and an LRU cache of "plans" (a primitive with what its calls need)
// keyed by a vector of integers (shapes, strides, options, thread count).

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "attnkit/core/error.h"

namespace attnkit::kernels {

// One engine for the process (inline: one instance across the library).
inline dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A stream per thread: oneDNN streams are not meant to be shared across threads.
inline dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// Every primitive attnkit creates takes its scratchpad from the caller. In
// oneDNN's default ("library") mode, primitives share one scratchpad and a
// primitive may only run on the thread that created it; a cached primitive
// run from two threads at once then computes into the same memory and returns
// wrong values. With the caller's scratchpad (one per calling thread) a
// primitive may run on any number of threads at once.
inline dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// A cap on every plan cache's size below its own capacity (0 = none), so a
// test can make plans be evicted while other threads still run them.
inline std::atomic<size_t>& dnnl_plan_cache_cap() {
  static std::atomic<size_t> cap{0};
  return cap;
}
struct DnnlPlanCacheLimit {
  size_t previous;
  explicit DnnlPlanCacheLimit(size_t cap) : previous(dnnl_plan_cache_cap().exchange(cap)) {}
  ~DnnlPlanCacheLimit() { dnnl_plan_cache_cap() = previous; }
  DnnlPlanCacheLimit(const DnnlPlanCacheLimit&) = delete;
  DnnlPlanCacheLimit& operator=(const DnnlPlanCacheLimit&) = delete;
};

template <typename Plan>
class DnnlPlanCache {
 public:
  // `op` names the kernel in the error of a primitive oneDNN cannot create.
  DnnlPlanCache(const char* op, size_t capacity) : op_(op), capacity_(capacity) {}

  // The plan for `key`, created by create() (returning a Plan) on a miss.
  template <typename Create>
  std::shared_ptr<const Plan> get(const std::vector<int64_t>& key, Create&& create) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = entries_.find(key); it != entries_.end()) {
        order_.splice(order_.begin(), order_, it->second.position);
        return it->second.plan;
      }
    }
    // Created outside the lock: oneDNN may take milliseconds to generate code.
    std::shared_ptr<const Plan> plan;
    try {
      plan = std::make_shared<const Plan>(create());
    } catch (const dnnl::error& e) {
      throw Error(std::string(op_) + ": oneDNN could not create a primitive: " + e.what());
    }
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) return it->second.plan;  // another thread won
    order_.push_front(key);
    entries_.emplace(key, Entry{plan, order_.begin()});
    const size_t cap = dnnl_plan_cache_cap().load(std::memory_order_relaxed);
    const size_t capacity = cap > 0 ? std::min(cap, capacity_) : capacity_;
    // An evicted plan lives on in the calls that still hold it.
    while (entries_.size() > capacity) {
      entries_.erase(order_.back());
      order_.pop_back();
    }
    return plan;
  }

  size_t size() {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }

 private:
  struct KeyHash {
    size_t operator()(const std::vector<int64_t>& key) const {
      size_t h = 1469598103934665603ull;  // FNV-1a over the integers
      for (int64_t v : key) h = (h ^ static_cast<size_t>(v)) * 1099511628211ull;
      return h;
    }
  };
  struct Entry {
    std::shared_ptr<const Plan> plan;
    std::list<std::vector<int64_t>>::iterator position;
  };
  const char* op_;
  size_t capacity_;
  std::mutex mutex_;
  std::list<std::vector<int64_t>> order_;
  std::unordered_map<std::vector<int64_t>, Entry, KeyHash> entries_;
};

}  // namespace attnkit::kernels
