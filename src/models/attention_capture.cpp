#include "attnkit/models/attention_capture.h"

#include "attnkit/core/error.h"

namespace attnkit::models {

bool AttentionCapture::wants(int64_t layer, int64_t layer_count) const {
  if (layers.empty()) return true;
  for (int64_t chosen : layers) {
    AK_CHECK(chosen >= -layer_count && chosen < layer_count, "output_attentions: layer ", chosen,
             " is out of range for a model of ", layer_count, " layers");
    if ((chosen < 0 ? chosen + layer_count : chosen) == layer) return true;
  }
  return false;
}

}  // namespace attnkit::models
