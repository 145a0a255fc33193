#pragma once
// The date-translation task of the demo: dates written the ways people write
// them ("25th of November 2026", "Nov 25, 26", "25.11.2026", "wednesday
// november 25 2026", ...) paired with their ISO form "2026-11-25".
//
// Dates are uniform over 1950-01-01 .. 2049-12-31, so two-digit years are
// unambiguous (50-99: 19xx, 00-49: 20xx), and the numeric formats keep day
// and month order apart by their separator (D.M.Y with dots, M/D/Y with
// slashes, Y/M/D with a four-digit year first). Weekdays are the true ones.
// Everything is drawn from the counter-based generator: one seed, one list.

#include <cstdint>
#include <string>
#include <vector>

#include "attnkit/core/rng.h"

namespace attnkit::data {

struct DatePair {
  std::string source;  // "Nov 25, 26"
  std::string target;  // "2026-11-25"
};

struct CivilDate {
  int year, month, day;  // month 1..12, day 1..31
};

// Days since 1970-01-01 <-> civil date (proleptic Gregorian).
int64_t days_from_civil(const CivilDate& date);
CivilDate civil_from_days(int64_t days);
int weekday(const CivilDate& date);  // 0 = Monday .. 6 = Sunday

// The number of source formats, and one date written in format `format`
// (0 <= format < count) with letter case `case_style` (0 as written,
// 1 lower, 2 upper).
int date_format_count();
std::string format_date(const CivilDate& date, int format, int case_style);
std::string iso_date(const CivilDate& date);

// `count` pairs from `seed`: random dates, formats and cases.
std::vector<DatePair> make_date_pairs(int64_t count, uint64_t seed);

// Characters as token ids: 0 pad, 1 bos, 2 eos, then every printable ASCII
// character (space .. '~'). Other bytes are an error naming them.
class CharVocab {
 public:
  static constexpr int64_t kPad = 0, kBos = 1, kEos = 2;
  int64_t size() const { return 3 + 95; }
  std::vector<int64_t> encode(const std::string& text, bool bos = false, bool eos = false) const;
  std::string decode(const std::vector<int64_t>& ids) const;  // stops at eos, skips pad and bos
};

}  // namespace attnkit::data
