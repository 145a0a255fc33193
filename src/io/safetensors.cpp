#include "attnkit/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "attnkit/core/error.h"
#include "attnkit/io/atomic_file.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; so must the host be");

namespace attnkit::io {

namespace {

constexpr const char* kOp = "safetensors";
const char* file_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "F32";
    case DType::BFloat16: return "BF16";
    case DType::Int64: return "I64";
    case DType::Int32: return "I32";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

// The attnkit dtype a file dtype is read as.
DType read_dtype(const std::string& name) {
  if (name == "BF16") return kBFloat16;
  if (name == "I64") return kInt64;
  if (name == "I32") return kInt32;
  if (name == "BOOL") return kBool;
  return kFloat32;  // F32 and every float or small-int type converted to it
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu, bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal half: normalise
    int shift = 0;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

// A copy of `count` elements of file dtype `dtype` at `src` as an attnkit tensor.
Tensor convert(const std::string& dtype, const uint8_t* src, const Shape& shape) {
  Tensor out = empty(shape, read_dtype(dtype));
  const int64_t n = out.numel();
  auto read = [&](auto tag, int64_t i) {
    decltype(tag) value;
    std::memcpy(&value, src + i * sizeof(value), sizeof(value));
    return value;
  };
  if (dtype == "BOOL") {
    bool* dst = out.data<bool>();
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i] != 0;  // any non-zero byte is true
    return out;
  }
  if (out.dtype() != kFloat32) {  // native layout, copied because unaligned
    std::memcpy(out.data_ptr(), src, static_cast<size_t>(n) * dtype_size(out.dtype()));
    return out;
  }
  float* dst = out.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == "F32") dst[i] = read(float{}, i);
    else if (dtype == "F64") dst[i] = static_cast<float>(read(double{}, i));
    else if (dtype == "F16") dst[i] = half_to_float(read(uint16_t{}, i));
    else if (dtype == "I16") dst[i] = read(int16_t{}, i);
    else if (dtype == "I8") dst[i] = read(int8_t{}, i);
    else dst[i] = read(uint8_t{}, i);  // U8
  }
  return out;
}

}  // namespace

// ---- reading ----

struct SafetensorsFile::Mapping {
  void* base = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (base) ::munmap(base, size);
  }
};

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), mapping_(std::make_shared<Mapping>()) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  AK_CHECK(fd >= 0, kOp, ": cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    AK_CHECK(false, kOp, ": cannot stat ", path, ": ", std::strerror(saved));
  }
  mapping_->size = static_cast<size_t>(st.st_size);
  if (mapping_->size > 0) {
    // Private and writable: tensors may be modified in place, the file never is.
    void* base = ::mmap(nullptr, mapping_->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    const int saved = errno;
    ::close(fd);
    AK_CHECK(base != MAP_FAILED, kOp, ": cannot map ", path, ": ", std::strerror(saved));
    mapping_->base = base;
  } else {
    ::close(fd);
  }
  try {
    header_ = parse_safetensors_header(static_cast<const uint8_t*>(mapping_->base), mapping_->size);
  } catch (const Error& e) {
    throw ValueError(std::string(e.what()) + " (in " + path + ")");
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const SafetensorsEntry& e : header_.tensors) out.push_back(e.name);
  std::sort(out.begin(), out.end());
  return out;
}

bool SafetensorsFile::contains(const std::string& name) const {
  return std::any_of(header_.tensors.begin(), header_.tensors.end(),
                     [&](const SafetensorsEntry& e) { return e.name == name; });
}

Tensor SafetensorsFile::get(const std::string& name) const {
  auto found = std::find_if(header_.tensors.begin(), header_.tensors.end(),
                            [&](const SafetensorsEntry& e) { return e.name == name; });
  AK_CHECK(found != header_.tensors.end(), kOp, ": ", path_, " has no tensor \"", name, "\"");
  const SafetensorsEntry& e = *found;
  uint8_t* src = static_cast<uint8_t*>(mapping_->base) + header_.data_start + e.begin;
  const DType dtype = read_dtype(e.dtype);
  const bool native = e.dtype == "F32" || e.dtype == "BF16" || e.dtype == "I64" || e.dtype == "I32";
  const bool aligned = reinterpret_cast<uintptr_t>(src) % dtype_size(dtype) == 0;
  if (native && aligned && e.end > e.begin) {
    std::shared_ptr<Mapping> keep = mapping_;  // the view keeps the mapping alive
    return from_blob(src, e.shape, dtype, [keep](void*) {});
  }
  return convert(e.dtype, src, e.shape);
}

TensorMap SafetensorsFile::tensors() const {
  TensorMap out;
  for (const SafetensorsEntry& e : header_.tensors) out[e.name] = get(e.name);
  return out;
}

TensorMap load_safetensors(const std::string& path) { return SafetensorsFile(path).tensors(); }

// ---- writing ----

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    AK_CHECK(tensor.defined(), kOp, ": tensor \"", name, "\" is undefined");
    AK_CHECK(name != "__metadata__", kOp, ": \"__metadata__\" is reserved and cannot name a tensor");
    Tensor t = tensor.detach().contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", file_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  write_file_atomically(path, [&](std::ostream& out) {
    const uint64_t size = text.size();
    out.write(reinterpret_cast<const char*>(&size), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const Tensor& t : contiguous) {
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(static_cast<size_t>(t.numel()) * dtype_size(t.dtype())));
    }
  });
}

}  // namespace attnkit::io
