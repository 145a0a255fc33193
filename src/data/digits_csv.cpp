// The parser of scikit-learn's digits.csv (data/digits.h); apart from the
// tensors so the fuzz target links nothing else.
#include <charconv>

#include "attnkit/core/error.h"
#include "attnkit/data/digits.h"

namespace attnkit::data {

namespace {

constexpr int kPixels = 64;
constexpr int kFields = kPixels + 1;

// "7", or "7.0" as NumPy writes integral floats.
bool parse_integer(std::string_view field, int& value) {
  const char* end = field.data() + field.size();
  const auto [ptr, ec] = std::from_chars(field.data(), end, value);
  if (ec != std::errc()) return false;
  const std::string_view rest(ptr, static_cast<size_t>(end - ptr));
  return rest.empty() || (rest.front() == '.' && rest.find_first_not_of('0', 1) == std::string_view::npos);
}

}  // namespace

DigitsCsv parse_digits_csv(std::string_view text) {
  DigitsCsv parsed;
  std::vector<float>& pixels = parsed.pixels;
  std::vector<int64_t>& labels = parsed.labels;
  int64_t line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    int fields = 0;
    while (true) {
      const size_t comma = line.find(',');
      const std::string_view field = line.substr(0, comma);
      int value = -1;
      AK_CHECK(parse_integer(field, value), "parse_digits_csv: line ", line_number, ", field ", fields + 1,
               ": expected an integer, got \"", field.substr(0, 20), "\"");
      const int limit = fields < kPixels ? 16 : 9;
      AK_CHECK(value >= 0 && value <= limit, "parse_digits_csv: line ", line_number, ", field ", fields + 1, ": ",
               fields < kPixels ? "a grey level must be in 0..16" : "a label must be in 0..9", ", got ", value);
      AK_CHECK(fields < kFields, "parse_digits_csv: line ", line_number, ": more than ", kFields,
               " fields (64 pixels and a label)");
      if (fields < kPixels) pixels.push_back(static_cast<float>(value) / 16.0f);
      else labels.push_back(value);
      ++fields;
      if (comma == std::string_view::npos) break;
      line = line.substr(comma + 1);
    }
    AK_CHECK(fields == kFields, "parse_digits_csv: line ", line_number, ": ", fields,
             " fields; expected 65 (64 pixels and a label)");
  }
  return parsed;
}

}  // namespace attnkit::data
