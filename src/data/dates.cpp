#include "attnkit/data/dates.h"

#include <array>
#include <cctype>
#include <cstdio>

#include "attnkit/core/error.h"

namespace attnkit::data {

namespace {

constexpr std::array<const char*, 12> kMonths = {"January", "February", "March",     "April",   "May",      "June",
                                                 "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<const char*, 7> kWeekdays = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                  "Friday", "Saturday", "Sunday"};
constexpr int kFormats = 16;

std::string two(int value) {
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "%02d", value % 100);
  return buffer;
}

std::string ordinal(int day) {
  const char* suffix = (day % 100 >= 11 && day % 100 <= 13) ? "th"
                       : day % 10 == 1                      ? "st"
                       : day % 10 == 2                      ? "nd"
                       : day % 10 == 3                      ? "rd"
                                                            : "th";
  return std::to_string(day) + suffix;
}

std::string abbreviation(const char* name) { return std::string(name, 3); }

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

// Civil dates by 400-year eras of 146097 days, with March as the first month
// so the leap day ends the year (the method of H. Hinnant, "chrono-Compatible
// Low-Level Date Algorithms").
int64_t days_from_civil(const CivilDate& date) {
  AK_CHECK(date.month >= 1 && date.month <= 12 && date.day >= 1 && date.day <= days_in_month(date.year, date.month),
           "days_from_civil: ", date.year, "-", date.month, "-", date.day, " is not a date");
  const int64_t y = date.year - (date.month <= 2 ? 1 : 0);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (date.month + (date.month > 2 ? -3 : 9)) + 2) / 5 + date.day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilDate civil_from_days(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0)), month, day};
}

int weekday(const CivilDate& date) {
  const int64_t days = days_from_civil(date);  // 1970-01-01 was a Thursday (3)
  return static_cast<int>(((days % 7) + 7 + 3) % 7);
}

int date_format_count() { return kFormats; }

std::string iso_date(const CivilDate& d) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02d", d.year, d.month, d.day);
  return buffer;
}

std::string format_date(const CivilDate& d, int format, int case_style) {
  AK_CHECK(format >= 0 && format < kFormats, "format_date: format must be in [0, ", kFormats, "), got ", format);
  AK_CHECK(case_style >= 0 && case_style <= 2, "format_date: case_style must be 0, 1 or 2, got ", case_style);
  const std::string month = kMonths[static_cast<size_t>(d.month - 1)];
  const std::string mon = abbreviation(kMonths[static_cast<size_t>(d.month - 1)]);
  const std::string day_name = kWeekdays[static_cast<size_t>(weekday(d))];
  const std::string year = std::to_string(d.year), yy = two(d.year);
  const std::string day = std::to_string(d.day), dd = two(d.day), mm = two(d.month);
  std::string text;
  switch (format) {
    case 0: text = dd + "." + mm + "." + year; break;                          // 25.11.2026
    case 1: text = day + "." + std::to_string(d.month) + "." + yy; break;      // 25.11.26
    case 2: text = mm + "/" + dd + "/" + year; break;                          // 11/25/2026
    case 3: text = year + "/" + mm + "/" + dd; break;                          // 2026/11/25
    case 4: text = month + " " + day + ", " + year; break;                     // November 25, 2026
    case 5: text = mon + " " + day + ", " + yy; break;                         // Nov 25, 26
    case 6: text = day + " " + month + " " + year; break;                      // 25 November 2026
    case 7: text = day + " " + mon + " " + year; break;                        // 25 Nov 2026
    case 8: text = ordinal(d.day) + " of " + month + " " + year; break;        // 25th of November 2026
    case 9: text = "the " + ordinal(d.day) + " of " + month + ", " + year; break;
    case 10: text = day_name + " " + month + " " + day + " " + year; break;    // Wednesday November 25 2026
    case 11: text = day_name + ", " + day + " " + mon + " " + year; break;     // Wednesday, 25 Nov 2026
    case 12: text = abbreviation(day_name.c_str()) + " " + day + " " + mon + " " + yy; break;  // Wed 25 Nov 26
    case 13: text = month + " " + ordinal(d.day) + ", " + year; break;         // November 25th, 2026
    case 14: text = year + ", " + month + " " + day; break;                    // 2026, November 25
    default: text = mon + ". " + ordinal(d.day) + " '" + yy; break;            // Nov. 25th '26
  }
  for (char& c : text) {
    if (case_style == 1) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (case_style == 2) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return text;
}

std::vector<DatePair> make_date_pairs(int64_t count, uint64_t seed) {
  AK_CHECK(count >= 0, "make_date_pairs: count must be non-negative, got ", count);
  const int64_t first = days_from_civil({1950, 1, 1}), span = days_from_civil({2049, 12, 31}) - first + 1;
  Generator generator(seed);
  const Generator::Range range = generator.reserve(static_cast<uint64_t>(count));  // 4 words per pair
  std::vector<DatePair> pairs;
  pairs.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t base = static_cast<uint64_t>(i) * 4;
    const CivilDate date = civil_from_days(first + philox_word(range.seed, range.first_block, base) % span);
    const int format = static_cast<int>(philox_word(range.seed, range.first_block, base + 1) % kFormats);
    const int case_style = static_cast<int>(philox_word(range.seed, range.first_block, base + 2) % 4 % 3);
    pairs.push_back({format_date(date, format, case_style), iso_date(date)});
  }
  return pairs;
}

std::vector<int64_t> CharVocab::encode(const std::string& text, bool bos, bool eos) const {
  std::vector<int64_t> ids;
  if (bos) ids.push_back(kBos);
  for (unsigned char c : text) {
    AK_CHECK(c >= 32 && c <= 126, "CharVocab.encode: byte ", static_cast<int>(c), " is not printable ASCII");
    ids.push_back(3 + (c - 32));
  }
  if (eos) ids.push_back(kEos);
  return ids;
}

std::string CharVocab::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  for (int64_t id : ids) {
    if (id == kEos) break;
    if (id == kPad || id == kBos) continue;
    AK_CHECK(id >= 3 && id < size(), "CharVocab.decode: id ", id, " is outside the vocabulary of ", size());
    text.push_back(static_cast<char>(32 + id - 3));
  }
  return text;
}

}  // namespace attnkit::data
