// Error is header-only; this file anchors its vtable in the library so that
// exceptions thrown in libattnkit are caught by type in the Python module.
#include "attnkit/core/error.h"
