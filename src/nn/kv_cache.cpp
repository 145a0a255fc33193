#include "attnkit/nn/kv_cache.h"

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"

namespace attnkit::nn {

namespace {
constexpr const char* kOp = "KVCache";
}

KVCache::KVCache(int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim, int64_t value_dim)
    : capacity_(capacity) {
  if (value_dim == 0) value_dim = head_dim;
  AK_CHECK(batch > 0 && kv_heads > 0 && capacity > 0 && head_dim > 0 && value_dim > 0, kOp,
           ": batch, kv_heads, capacity, head_dim and value_dim must be positive, got ", batch, ", ", kv_heads,
           ", ", capacity, ", ", head_dim, " and ", value_dim);
  key_storage_ = zeros({batch, kv_heads, capacity, head_dim});
  value_storage_ = zeros({batch, kv_heads, capacity, value_dim});
}

void KVCache::append(const Tensor& key, const Tensor& value) {
  const ExclusiveUse in_use(in_use_, "KVCache.append");
  const Shape& ks = key_storage_.shape();
  const Shape& vs = value_storage_.shape();
  AK_CHECK(key.dim() == 4 && key.size(0) == ks[0] && key.size(1) == ks[1] && key.size(3) == ks[3], kOp,
           ".append: key must be (", ks[0], ", ", ks[1], ", T, ", ks[3], "), got ", shape_str(key.shape()));
  AK_CHECK(value.dim() == 4 && value.size(0) == vs[0] && value.size(1) == vs[1] && value.size(3) == vs[3] &&
               value.size(2) == key.size(2),
           kOp, ".append: value must be (", vs[0], ", ", vs[1], ", ", key.size(2), ", ", vs[3], "), got ",
           shape_str(value.shape()));
  const int64_t steps = key.size(2);
  AK_CHECK(length_ + steps <= capacity_, kOp, ".append: ", steps, " more steps exceed the capacity: ", length_,
           " cached of ", capacity_);
  NoGradGuard no_grad;
  key_storage_.narrow(2, length_, steps).copy_(key.detach());
  value_storage_.narrow(2, length_, steps).copy_(value.detach());
  length_ += steps;
}

void KVCache::truncate(int64_t length) {
  const ExclusiveUse in_use(in_use_, "KVCache.truncate");
  AK_CHECK(length >= 0 && length <= length_, kOp, ".truncate: length must be in [0, ", length_, "], got ", length);
  length_ = length;
}

Tensor KVCache::keys() const { return key_storage_.narrow(2, 0, length_); }
Tensor KVCache::values() const { return value_storage_.narrow(2, 0, length_); }

functional::SdpaOutput KVCache::attend(const Tensor& query, functional::SdpaOptions options) const {
  const ExclusiveUse in_use(in_use_, "KVCache.attend");
  AK_CHECK(query.dim() == 4 && query.size(0) == key_storage_.size(0) && query.size(3) == key_storage_.size(3),
           kOp, ".attend: query must be (", key_storage_.size(0), ", Hq, T, ", key_storage_.size(3), "), got ",
           shape_str(query.shape()));
  AK_CHECK(length_ > 0 && query.size(2) <= length_, kOp, ".attend: ", query.size(2),
           " queries need at least as many cached steps, ", length_, " cached (append before attending)");
  options.causal_lower_right = true;  // the queries are the last T positions
  options.enable_gqa = query.size(1) != key_storage_.size(1);
  return functional::scaled_dot_product_attention(query, keys(), values(), options);
}

}  // namespace attnkit::nn
