#include "kernels/matmul_dnnl.h"

#include <omp.h>

#include <list>
#include <mutex>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "attnkit/core/error.h"

namespace attnkit::kernels {

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A stream per thread: oneDNN streams are not meant to be shared across threads.
dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

struct KeyHash {
  size_t operator()(const std::vector<int64_t>& key) const {
    size_t h = 1469598103934665603ull;
    for (int64_t v : key) h = (h ^ static_cast<size_t>(v)) * 1099511628211ull;
    return h;
  }
};

// An LRU cache of primitives keyed by the operands' dims and strides.
class PrimitiveCache {
 public:
  static constexpr size_t kCapacity = 1024;

  dnnl::matmul get(const MatrixOperand& a, const MatrixOperand& b, const MatrixOperand& c) {
    std::vector<int64_t> key;
    key.reserve(6 * a.dims.size() + 1);
    key.push_back(static_cast<int64_t>(a.dims.size()));
    // oneDNN sizes a primitive for the thread count at creation.
    key.push_back(omp_get_max_threads());
    for (const MatrixOperand* m : {&a, &b, &c}) {
      key.insert(key.end(), m->dims.begin(), m->dims.end());
      key.insert(key.end(), m->strides.begin(), m->strides.end());
    }
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      order_.splice(order_.begin(), order_, it->second.position);
      return it->second.primitive;
    }
    dnnl::matmul primitive = create(a, b, c);
    order_.push_front(key);
    entries_.emplace(key, Entry{primitive, order_.begin()});
    if (entries_.size() > kCapacity) {
      entries_.erase(order_.back());
      order_.pop_back();
    }
    return primitive;
  }

  size_t size() {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }

 private:
  static dnnl::matmul create(const MatrixOperand& a, const MatrixOperand& b, const MatrixOperand& c) {
    using dt = dnnl::memory::data_type;
    dnnl::memory::desc a_md(a.dims, dt::f32, a.strides);
    dnnl::memory::desc b_md(b.dims, dt::f32, b.strides);
    dnnl::memory::desc c_md(c.dims, dt::f32, c.strides);
    try {
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), cpu_engine());
      return dnnl::matmul(pd);
    } catch (const dnnl::error& e) {
      throw Error(std::string("matmul: oneDNN could not create a primitive: ") + e.what());
    }
  }

  struct Entry {
    dnnl::matmul primitive;
    std::list<std::vector<int64_t>>::iterator position;
  };
  std::mutex mutex_;
  std::list<std::vector<int64_t>> order_;
  std::unordered_map<std::vector<int64_t>, Entry, KeyHash> entries_;
};

PrimitiveCache& cache() {
  static PrimitiveCache instance;
  return instance;
}

}  // namespace

void dnnl_matmul(const MatrixOperand& a, const MatrixOperand& b, const MatrixOperand& c) {
  dnnl::matmul primitive = cache().get(a, b, c);
  using dt = dnnl::memory::data_type;
  dnnl::memory a_mem({a.dims, dt::f32, a.strides}, cpu_engine(), a.data);
  dnnl::memory b_mem({b.dims, dt::f32, b.strides}, cpu_engine(), b.data);
  dnnl::memory c_mem({c.dims, dt::f32, c.strides}, cpu_engine(), c.data);
  dnnl::stream& stream = cpu_stream();
  primitive.execute(stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  stream.wait();
}

size_t dnnl_matmul_cache_size() { return cache().size(); }

}  // namespace attnkit::kernels
