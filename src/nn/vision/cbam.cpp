#include "attnkit/nn/vision/cbam.h"
