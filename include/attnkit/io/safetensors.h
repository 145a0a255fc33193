#pragma once
// The safetensors format (Hugging Face): an 8-byte little-endian header
// size N, N bytes of JSON
//
//   {"weight": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
//    "__metadata__": {"format": "pt"}}
//
// and the tensors' bytes, row-major and little-endian, each at its offsets
// within the data that follows the header, back to back with no holes.
//
// Reading maps the file into memory: tensors of the dtypes attnkit has
// (F32, BF16, I64, I32, BOOL) are views of the mapping (copy on write, the
// file is never modified), others that have an exact float32 image (F16,
// F64 rounded, I8/U8/I16) are converted on load. Every header is validated
// first, and a problem is an attnkit::Error naming it. Writing is atomic
// (atomic_file.h).

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit::io {

using TensorMap = std::map<std::string, Tensor>;

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as in the file: "F32", "BF16", ...
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets within the data section
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> tensors;  // in the order of their data
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + header size: where the data section starts
};

// Validates and parses the header of a whole safetensors file held in
// memory (`size` bytes from `data`): sizes, JSON, dtypes, shapes, offsets
// that tile the data section exactly. The fuzzed entry point.
SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size);

// A safetensors file mapped into memory.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  const SafetensorsHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  Tensor get(const std::string& name) const;  // error naming the file if absent
  TensorMap tensors() const;

 private:
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  SafetensorsHeader header_;
};

TensorMap load_safetensors(const std::string& path);
// Writes every tensor (contiguous copies where needed) with its name;
// metadata goes under "__metadata__". Atomic: a crash leaves the old file.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace attnkit::io
