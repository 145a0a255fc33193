#include "attnkit/nn/vision/dynamic_capacity.h"
