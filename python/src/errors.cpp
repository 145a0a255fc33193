// attnkit's C++ exceptions as Python exceptions, message unchanged:
//   attnkit::ValueError -> ValueError   (an argument had the wrong value)
//   attnkit::StateError -> RuntimeError (e.g. a second backward through a freed graph)
//   attnkit::Error      -> RuntimeError (anything else the library refuses)
#include "bindings.h"

namespace attnkit::python {

void bind_errors(nb::module_&) {
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    // Exceptions not caught here propagate to nanobind's default translators.
    try {
      std::rethrow_exception(error);
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const StateError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
}

}  // namespace attnkit::python
