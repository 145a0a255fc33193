#include "attnkit/nn/vision/spatial_transformer.h"
