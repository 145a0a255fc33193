#include "kernels/matmul_dnnl.h"

#include <omp.h>

#include <memory>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/dnnl_context.h"
#include "kernels/scratch_buffer.h"

namespace attnkit::kernels {

namespace {

struct MatmulPlan {
  dnnl::matmul primitive;
  dnnl::memory::desc scratchpad;  // what one execution needs (often nothing)
};

MatmulPlan create_plan(const MatrixOperand& a, const MatrixOperand& b, const MatrixOperand& c) {
  using dt = dnnl::memory::data_type;
  dnnl::memory::desc a_md(a.dims, dt::f32, a.strides);
  dnnl::memory::desc b_md(b.dims, dt::f32, b.strides);
  dnnl::memory::desc c_md(c.dims, dt::f32, c.strides);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), user_scratchpad(), cpu_engine());
  return {dnnl::matmul(pd), pd.scratchpad_desc()};
}

// Plans keyed by the operands' dims and strides.
DnnlPlanCache<MatmulPlan>& cache() {
  static DnnlPlanCache<MatmulPlan> instance("matmul", 1024);
  return instance;
}

}  // namespace

void dnnl_matmul(const MatrixOperand& a, const MatrixOperand& b, const MatrixOperand& c) {
  std::vector<int64_t> key;
  key.reserve(6 * a.dims.size() + 2);
  key.push_back(static_cast<int64_t>(a.dims.size()));
  key.push_back(omp_get_max_threads());  // oneDNN sizes a primitive for the thread count at creation
  for (const MatrixOperand* m : {&a, &b, &c}) {
    key.insert(key.end(), m->dims.begin(), m->dims.end());
    key.insert(key.end(), m->strides.begin(), m->strides.end());
  }
  const std::shared_ptr<const MatmulPlan> plan = cache().get(key, [&] { return create_plan(a, b, c); });
  using dt = dnnl::memory::data_type;
  dnnl::memory a_mem({a.dims, dt::f32, a.strides}, cpu_engine(), a.data);
  dnnl::memory b_mem({b.dims, dt::f32, b.strides}, cpu_engine(), b.data);
  dnnl::memory c_mem({c.dims, dt::f32, c.strides}, cpu_engine(), c.data);
  // The calling thread's own scratchpad: the cached primitive may be running
  // on other threads at this moment.
  thread_local ScratchBuffer scratchpad_buffer;
  dnnl::memory scratchpad(plan->scratchpad, cpu_engine(), scratchpad_buffer.get(plan->scratchpad.get_size()));
  dnnl::stream& stream = cpu_stream();
  plan->primitive.execute(stream, {{DNNL_ARG_SRC, a_mem},
                                   {DNNL_ARG_WEIGHTS, b_mem},
                                   {DNNL_ARG_DST, c_mem},
                                   {DNNL_ARG_SCRATCHPAD, scratchpad}});
  stream.wait();
}

size_t dnnl_matmul_cache_size() { return cache().size(); }

}  // namespace attnkit::kernels
