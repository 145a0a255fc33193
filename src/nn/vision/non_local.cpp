#include "attnkit/nn/vision/non_local.h"
