#pragma once
// Cross-entropy over class logits, as torch.nn.functional.cross_entropy with
// class-index targets.
//
// input: (N, C), (C) or (N, C, d1, ...); target: int64 (N), () or (N, d1, ...).
// Targets equal to ignore_index contribute nothing, and "mean" divides by the
// number of targets that are not ignored. label_smoothing ε mixes the one-hot
// target with the uniform distribution: (1 - ε) · nll + ε · mean_c(-log p_c).

#include <cstdint>
#include <string_view>

#include "attnkit/core/tensor.h"

namespace attnkit {

enum class Reduction { None, Mean, Sum };
Reduction parse_reduction(std::string_view name, const char* op);  // "none" | "mean" | "sum"

Tensor cross_entropy(const Tensor& input, const Tensor& target, int64_t ignore_index = -100,
                     Reduction reduction = Reduction::Mean, double label_smoothing = 0.0);

}  // namespace attnkit
