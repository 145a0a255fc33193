// attnkit._C.nn.vision: (being written)
#include "convert.h"

namespace attnkit::python {

void bind_vision_glimpse_blocks(nb::module_& vision) {}

}  // namespace attnkit::python
