#pragma once
// C (m, n) = A (m, k) · B (k, n) [+ bias] for a few rows (m <= kGemvMaxRows):
// the shape of one decoding step, where every weight is read once per token
// and the time is the time to stream B from memory. Blocked GEMM would pack
// all of B for a handful of rows, reading and writing it twice more; these
// kernels read B where it lies, once.
//
// Two layouts of B, the two a linear layer has:
//   rows     B[p][j] = b[p · ldb + j]   (x W with W (in, out), GPT-2's Conv1D)
//   columns  B[p][j] = b[j · ldb + p]   (x Wᵀ with W (out, in), nn.Linear)
// A is read through its strides (copied to a small contiguous block first).

#include <cstdint>

#include "kernels/gemm.h"

namespace attnkit::kernels {

constexpr int64_t kGemvMaxRows = 4;

// Whether gemv() handles these arguments: m <= kGemvMaxRows and a unit
// stride along one dimension of B.
bool gemv_applies(const GemmArgs& args);
// Splits the columns over the OpenMP threads.
void gemv(const GemmArgs& args);

}  // namespace attnkit::kernels
