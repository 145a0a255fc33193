#pragma once
// Writing a file so that a crash never leaves it half written: the bytes go
// to a temporary file in the same directory, which is flushed to disk and
// then renamed over the target (rename is atomic on POSIX file systems).
// Readers see either the old file or the new one, never a mix.

#include <functional>
#include <ostream>
#include <string>

namespace attnkit::io {

// Calls write(stream) on a temporary file beside `path`, then fsyncs and
// renames it to `path`. If write throws or the disk fails, the temporary file
// is removed, `path` is left as it was, and the error propagates.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace attnkit::io
