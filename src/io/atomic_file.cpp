#include "attnkit/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "attnkit/core/error.h"

namespace attnkit::io {

namespace {

// Flushes a written file (or directory) to the disk.
void sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;  // best effort for the directory entry
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  AK_CHECK(rc == 0 || directory, "write_file_atomically: fsync of ", path, " failed: ", std::strerror(saved));
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  AK_CHECK(!path.empty(), "write_file_atomically: empty path");
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  try {
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      AK_CHECK(out.good(), "write_file_atomically: cannot create ", temporary, ": ", std::strerror(errno));
      write(out);
      out.flush();
      AK_CHECK(out.good(), "write_file_atomically: writing ", temporary, " failed (disk full?)");
    }
    sync_path(temporary, false);
    AK_CHECK(std::rename(temporary.c_str(), path.c_str()) == 0, "write_file_atomically: cannot rename ", temporary,
             " to ", path, ": ", std::strerror(errno));
  } catch (...) {
    std::remove(temporary.c_str());
    throw;
  }
  sync_path(directory_of(path), true);  // make the rename itself durable
}

}  // namespace attnkit::io
