#include "attnkit/nn/vision/recurrent_attention.h"
