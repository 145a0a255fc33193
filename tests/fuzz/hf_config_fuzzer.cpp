// libFuzzer target: any byte string as a config.json. Every parser must
// accept it or throw attnkit::Error; crashes, hangs, leaks and sanitizer
// reports are bugs. Built and run for a bounded time by scripts/test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "attnkit/core/error.h"
#include "attnkit/models/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    attnkit::models::model_type_of(text);
  } catch (const attnkit::Error&) {
  }
  try {
    attnkit::models::parse_gpt2_config(text);
  } catch (const attnkit::Error&) {
  }
  try {
    attnkit::models::parse_bert_config(text);
  } catch (const attnkit::Error&) {
  }
  return 0;
}
