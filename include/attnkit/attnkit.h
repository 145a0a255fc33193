#pragma once
// attnkit: attention mechanisms for deep learning. The whole public C++ API.

#include "attnkit/core/autograd.h"
#include "attnkit/core/dtype.h"
#include "attnkit/core/error.h"
#include "attnkit/core/rng.h"
#include "attnkit/core/tensor.h"
#include "attnkit/core/threading.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/dropout.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/embedding.h"
#include "attnkit/ops/join.h"
#include "attnkit/ops/layer_norm.h"
#include "attnkit/ops/loss.h"
#include "attnkit/ops/matmul.h"
#include "attnkit/ops/reduce.h"
#include "attnkit/ops/softmax.h"
