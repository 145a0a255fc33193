#include "attnkit/nn/vision/residual_attention.h"
