#include "attnkit/nn/vision/selective_kernel.h"
