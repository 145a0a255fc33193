// libFuzzer target: any byte string as a whole safetensors file. The parser
// must accept it or throw attnkit::Error; crashes, hangs, leaks and
// sanitizer reports are bugs. Built and run for a bounded time by
// scripts/test (clang, -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>

#include "attnkit/core/error.h"
#include "attnkit/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    attnkit::io::parse_safetensors_header(data, size);
  } catch (const attnkit::Error&) {
    // a clear error is the expected outcome for damaged input
  }
  return 0;
}
