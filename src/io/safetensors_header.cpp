// Validation and parsing of a safetensors header: kept apart from the
// tensors (it needs only the JSON library) so the fuzz target links it alone.
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "attnkit/core/error.h"
#include "attnkit/io/safetensors.h"
#include "io/json_depth.h"

namespace attnkit::io {

namespace {

constexpr const char* kOp = "safetensors";
constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit
constexpr int kMaxJsonDepth = 16;                 // a valid header nests 3 deep

struct DTypeInfo {
  const char* name;
  size_t itemsize;
};

// The safetensors dtypes attnkit reads; native ones map to an attnkit dtype.
constexpr DTypeInfo kDTypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
                                 {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};

const DTypeInfo* find_dtype(const std::string& name) {
  for (const DTypeInfo& d : kDTypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}


uint64_t as_unsigned(const nlohmann::json& value, const std::string& what) {
  AK_CHECK(value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0), kOp,
           ": ", what, " must be a non-negative integer, got ", value.dump());
  return value.get<uint64_t>();
}

SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& info) {
  const std::string where = "tensor \"" + name + "\"";
  AK_CHECK(info.is_object(), kOp, ": ", where, " must be an object with dtype, shape and data_offsets");
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    AK_CHECK(info.contains(field), kOp, ": ", where, " has no \"", field, "\"");
  }
  SafetensorsEntry e;
  e.name = name;
  AK_CHECK(info["dtype"].is_string(), kOp, ": ", where, ": dtype must be a string");
  e.dtype = info["dtype"].get<std::string>();
  const DTypeInfo* dtype = find_dtype(e.dtype);
  AK_CHECK(dtype != nullptr, kOp, ": ", where, " has dtype ", e.dtype,
           ", which attnkit does not read (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
  AK_CHECK(info["shape"].is_array(), kOp, ": ", where, ": shape must be an array");
  uint64_t bytes = dtype->itemsize;
  for (const auto& dim : info["shape"]) {
    const uint64_t size = as_unsigned(dim, where + " shape entry");
    AK_CHECK(size <= static_cast<uint64_t>(INT64_MAX) && !__builtin_mul_overflow(bytes, size, &bytes), kOp, ": ",
             where, " shape ", info["shape"].dump(), " overflows");
    e.shape.push_back(static_cast<int64_t>(size));
  }
  const auto& offsets = info["data_offsets"];
  AK_CHECK(offsets.is_array() && offsets.size() == 2, kOp, ": ", where, ": data_offsets must be [begin, end]");
  e.begin = as_unsigned(offsets[0], where + " data_offsets");
  e.end = as_unsigned(offsets[1], where + " data_offsets");
  AK_CHECK(e.begin <= e.end, kOp, ": ", where, ": data_offsets [", e.begin, ", ", e.end, "] are reversed");
  AK_CHECK(e.end - e.begin == bytes, kOp, ": ", where, " has ", e.end - e.begin, " bytes of data, its dtype ",
           e.dtype, " and shape ", info["shape"].dump(), " need ", bytes);
  return e;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size) {
  AK_CHECK(size >= 8, kOp, ": the file has ", size, " bytes, fewer than the 8-byte header size (truncated?)");
  uint64_t header_size;
  std::memcpy(&header_size, data, 8);
  AK_CHECK(header_size <= size - 8, kOp, ": the header claims ", header_size, " bytes but the file has only ",
           size - 8, " after the size field (truncated or not a safetensors file?)");
  AK_CHECK(header_size <= kMaxHeaderBytes, kOp, ": a header of ", header_size, " bytes is over the ",
           kMaxHeaderBytes, "-byte limit");
  const char* text = reinterpret_cast<const char*>(data + 8);
  AK_CHECK(json_nesting_depth(text, header_size, kMaxJsonDepth) <= kMaxJsonDepth, kOp, ": the header nests deeper than ", kMaxJsonDepth,
           " levels");
  nlohmann::json json = nlohmann::json::parse(text, text + header_size, nullptr, false);
  AK_CHECK(!json.is_discarded(), kOp, ": the header is not valid JSON");
  AK_CHECK(json.is_object(), kOp, ": the header must be a JSON object, got ", json.type_name());
  SafetensorsHeader header;
  header.data_start = 8 + header_size;
  for (const auto& [key, value] : json.items()) {
    if (key == "__metadata__") {
      AK_CHECK(value.is_object(), kOp, ": __metadata__ must be an object of strings");
      for (const auto& [mk, mv] : value.items()) {
        AK_CHECK(mv.is_string(), kOp, ": __metadata__ entry \"", mk, "\" must be a string");
        header.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    header.tensors.push_back(parse_entry(key, value));
  }
  // The data section is exactly the tensors' bytes, back to back.
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  uint64_t expected = 0;
  for (const SafetensorsEntry& e : header.tensors) {
    AK_CHECK(e.begin == expected, kOp, ": tensor \"", e.name, "\" starts at byte ", e.begin, " of the data, expected ",
             expected, " (overlapping or with a gap)");
    expected = e.end;
  }
  const uint64_t data_size = size - header.data_start;
  AK_CHECK(expected == data_size, kOp, ": the tensors cover ", expected, " bytes but the data section has ", data_size,
           expected > data_size ? " (truncated file)" : " (trailing bytes)");
  return header;
}

}  // namespace attnkit::io
