// libFuzzer target: any byte string as scikit-learn's digits.csv. The parser
// must accept it or throw attnkit::Error; crashes, hangs, leaks and sanitizer
// reports are bugs. Built and run for a bounded time by scripts/test.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attnkit/core/error.h"
#include "attnkit/data/digits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const attnkit::data::DigitsCsv parsed =
        attnkit::data::parse_digits_csv(std::string_view(reinterpret_cast<const char*>(data), size));
    if (parsed.pixels.size() != parsed.labels.size() * 64) __builtin_trap();  // one image per label
  } catch (const attnkit::Error&) {
  }
  return 0;
}
