#pragma once
// Nesting depth of JSON brackets outside strings. nlohmann frees a parsed
// value recursively, so the parsers of untrusted files (safetensors headers,
// config.json) refuse a hostile "[[[[...]]]]" before parsing it. The scan
// stops early once `limit` is passed.
#include <algorithm>
#include <cstddef>

namespace attnkit::io {

inline int json_nesting_depth(const char* text, size_t size, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < size; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace attnkit::io
