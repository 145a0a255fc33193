#include "attnkit/nn/vision/squeeze_excite.h"
