#pragma once
// A key/value cache for incremental decoding: keys and values of the steps
// seen so far, in storage allocated once for `capacity` steps, so appending
// a step copies only that step and never reallocates. attend() runs
// scaled_dot_product_attention of new queries against everything cached,
// with the causal mask aligned to the end (a query at position p sees keys
// 0..p), so decoding step by step gives what one pass over the whole
// sequence gives.
//
//   KVCache cache(batch, kv_heads, capacity, head_dim);
//   for each step: cache.append(k_step, v_step);            // (B, Hkv, T, E)
//                  out = cache.attend(q_step);               // (B, Hq, T, Ev)
//
// For inference: the copy into the cache is not recorded by autograd.

#include "attnkit/core/exclusive_use.h"
#include "attnkit/core/tensor.h"
#include "attnkit/functional/scaled_dot_product_attention.h"

namespace attnkit::nn {

// A cache belongs to one sequence being decoded: append and attend from two
// threads at once on the same cache is a StateError.
class KVCache {
 public:
  // value_dim 0 = head_dim.
  KVCache(int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim, int64_t value_dim = 0);

  // key (B, Hkv, T, E) and value (B, Hkv, T, Ev) of T new steps.
  void append(const Tensor& key, const Tensor& value);
  // Forgets every step; the storage stays.
  void clear() { length_ = 0; }
  // Keeps the first `length` steps (e.g. to rewind a rejected draft).
  void truncate(int64_t length);

  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  // Views of the cached steps: (B, Hkv, length, E) and (B, Hkv, length, Ev).
  Tensor keys() const;
  Tensor values() const;

  // query (B, Hq, T, E): the last T positions (already appended). Hq may be
  // a multiple of Hkv (grouped-query attention). options.is_causal makes the
  // mask causal, aligned to the end; scale, attn_mask, return_weights and
  // return_lse work as in scaled_dot_product_attention.
  functional::SdpaOutput attend(const Tensor& query, functional::SdpaOptions options = causal()) const;
  static functional::SdpaOptions causal() {
    functional::SdpaOptions o;
    o.is_causal = true;
    return o;
  }

 private:
  Tensor key_storage_;    // (B, Hkv, capacity, E)
  Tensor value_storage_;  // (B, Hkv, capacity, Ev)
  int64_t capacity_ = 0, length_ = 0;
  InUseFlag in_use_;
};

}  // namespace attnkit::nn
