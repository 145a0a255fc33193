#pragma once
// attnkit::Error — the one exception type the library throws for bad input.
//
// Messages name the op, what was given and what was expected, e.g.
//   matmul: shapes (2, 3) and (4, 5) cannot be multiplied: 3 != 4
// Library code never aborts or prints; it throws.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace attnkit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// An argument had the wrong value (Python sees ValueError).
class ValueError : public Error {
 public:
  using Error::Error;
};

// The request is well-formed but cannot be carried out in this state, e.g. a
// second backward through a freed graph (Python sees RuntimeError).
class StateError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

}  // namespace attnkit

// AK_CHECK(cond, "op: ", parts...) throws attnkit::ValueError with the
// concatenated message when cond is false. A macro only so the parts are not
// formatted on the happy path.
#define AK_CHECK(cond, ...)                                          \
  do {                                                               \
    if (!(cond)) throw ::attnkit::ValueError(::attnkit::detail::concat(__VA_ARGS__)); \
  } while (0)
