#include "attnkit/nn/vision/eca.h"
