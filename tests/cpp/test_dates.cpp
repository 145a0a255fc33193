// The date-translation data: calendar arithmetic against known dates, every
// format readable and unambiguous, the seed fixing the list, and the
// character vocabulary round-tripping.
#include <set>

#include "attnkit/data/dates.h"
#include "test_support.h"

namespace attnkit::testing {
namespace {

using data::CivilDate;

TEST(Dates, CalendarArithmetic) {
  EXPECT_EQ(data::days_from_civil({1970, 1, 1}), 0);
  EXPECT_EQ(data::days_from_civil({2000, 3, 1}), 11017);
  for (int64_t d = -30000; d < 40000; d += 37) {
    const CivilDate c = data::civil_from_days(d);
    EXPECT_EQ(data::days_from_civil(c), d);
  }
  EXPECT_EQ(data::weekday({2026, 11, 25}), 2);  // a Wednesday
  EXPECT_EQ(data::weekday({1969, 7, 20}), 6);   // the Moon landing: a Sunday
  EXPECT_EQ(data::weekday({2000, 2, 29}), 1);   // a Tuesday
  EXPECT_TRUE(throws_error_naming([] { data::days_from_civil({2026, 2, 29}); }, "2026-2-29 is not a date"));
}

TEST(Dates, FormatsOfOneDate) {
  const CivilDate d{2026, 11, 25};
  EXPECT_EQ(data::iso_date(d), "2026-11-25");
  std::set<std::string> seen;
  for (int f = 0; f < data::date_format_count(); ++f) seen.insert(data::format_date(d, f, 0));
  EXPECT_EQ(seen.size(), static_cast<size_t>(data::date_format_count()));  // all different
  EXPECT_TRUE(seen.count("25.11.2026"));
  EXPECT_TRUE(seen.count("Nov 25, 26"));
  EXPECT_TRUE(seen.count("25th of November 2026"));
  EXPECT_TRUE(seen.count("Wednesday November 25 2026"));
  EXPECT_EQ(data::format_date(d, 10, 1), "wednesday november 25 2026");
  EXPECT_EQ(data::format_date({2001, 3, 2}, 8, 2), "2ND OF MARCH 2001");
  EXPECT_EQ(data::format_date({2011, 1, 13}, 13, 0), "January 13th, 2011");
}

TEST(Dates, PairsAreSeededAndCoverTheRange) {
  auto a = data::make_date_pairs(2000, 7), b = data::make_date_pairs(2000, 7), c = data::make_date_pairs(2000, 8);
  ASSERT_EQ(a.size(), 2000u);
  int same = 0, before_2000 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].source, b[i].source);
    same += a[i].target == c[i].target;
    ASSERT_EQ(a[i].target.size(), 10u);
    before_2000 += a[i].target < "2000";
  }
  EXPECT_LT(same, 20);
  EXPECT_GT(before_2000, 850);  // half the range is before 2000
  EXPECT_LT(before_2000, 1150);
}

TEST(Dates, CharVocabRoundTrips) {
  data::CharVocab vocab;
  const std::string text = "the 25th of november, 2026 '26 ~";
  std::vector<int64_t> ids = vocab.encode(text, true, true);
  EXPECT_EQ(ids.front(), data::CharVocab::kBos);
  EXPECT_EQ(ids.back(), data::CharVocab::kEos);
  EXPECT_EQ(vocab.decode(ids), text);
  EXPECT_TRUE(throws_error_naming([&] { vocab.encode("caf\xc3\xa9"); }, "byte 195 is not printable ASCII"));
  EXPECT_TRUE(throws_error_naming([&] { vocab.decode({200}); }, "id 200 is outside the vocabulary of 98"));
}

}  // namespace
}  // namespace attnkit::testing
