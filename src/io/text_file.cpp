#include "io/text_file.h"

#include <fstream>

#include "attnkit/core/error.h"

namespace attnkit::io {

namespace {
constexpr size_t kMaxTextFileBytes = size_t{1} << 30;
}

std::string read_text_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  AK_CHECK(in.good(), path, ": cannot open the ", what, " file");
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  AK_CHECK(end >= 0, path, ": cannot read the ", what, " file");
  const auto size = static_cast<size_t>(end);
  AK_CHECK(size <= kMaxTextFileBytes, path, ": ", size, " bytes is over the ", kMaxTextFileBytes,
           "-byte limit of a ", what, " file");
  in.seekg(0);
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  AK_CHECK(!in.bad() && static_cast<size_t>(in.gcount()) == size, path, ": reading the ", what, " file failed");
  return text;
}

}  // namespace attnkit::io
