#pragma once
// Reading a whole text file (a config, tokenizer or index file) into memory,
// with errors naming the file and what it was for, and a size limit so a
// wrong path to a huge file fails at once instead of exhausting memory.
// Internal to the library.
#include <string>

namespace attnkit::io {

// `what` names the file's role in errors ("tokenizer.json", "config").
std::string read_text_file(const std::string& path, const char* what);

}  // namespace attnkit::io
