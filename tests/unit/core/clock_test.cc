// FormatRfc3339 against the C library's gmtime_r and strftime, the reference
// it replaced on the hot path: the same text for instants across leap years,
// year and month ends, before 1970, and with and without milliseconds.
#include "core/clock.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

namespace execgov {
namespace {

std::string Reference(std::chrono::system_clock::time_point t, bool with_millis) {
  using namespace std::chrono;
  auto secs = floor<seconds>(t);
  std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf);
  if (with_millis) {
    char frac[24];
    std::snprintf(frac, sizeof frac, ".%03lld", static_cast<long long>(duration_cast<milliseconds>(t - secs).count()));
    out += frac;
  }
  return out + "Z";
}

TEST(FormatRfc3339Test, MatchesTheCLibraryAcrossTheCalendar) {
  using namespace std::chrono;
  const int64_t seconds_list[] = {0,           -1,          951782400 /* 2000-02-29 */, 1709164799 /* 2024-02-28 23:59:59 */,
                                  1735689599 /* 2024-12-31 23:59:59 */, 4102444800 /* 2100-01-01 */, -2208988800 /* 1900-01-01 */,
                                  // The first and last two days system_clock holds (64-bit nanoseconds,
                                  // 1677-09-21 to 2262-04-11); 9999-12-31 does not fit in it.
                                  -9223372036 + 1, 9223372036 - 200000};
  int checked = 0;
  for (int64_t s : seconds_list) {
    for (int64_t ms : {0, 1, 999}) {
      for (int64_t step = 0; step < 200000; step += 3607) {  // an hour and a bit, over about two days
        system_clock::time_point t{seconds(s + step) + milliseconds(ms)};
        ASSERT_EQ(FormatRfc3339(t, true), Reference(t, true)) << s + step;
        ASSERT_EQ(FormatRfc3339(t, false), Reference(t, false)) << s + step;
        ++checked;
      }
    }
  }
  EXPECT_EQ(FormatRfc3339(system_clock::time_point{seconds(1764748800)}, true), "2025-12-03T08:00:00.000Z");
  EXPECT_GT(checked, 1000);
}

std::string Parsed(std::string_view text) {
  auto t = ParseRfc3339(text);
  return t ? FormatRfc3339(*t, true) : "refused";
}

TEST(ParseRfc3339Test, InstantsSystemClockCannotHoldAreRefused) {
  EXPECT_EQ(Parsed("2262-04-11T23:47:16.854775Z"), "2262-04-11T23:47:16.854Z");
  EXPECT_EQ(Parsed("2262-04-11T23:47:16.854776Z"), "refused");
  EXPECT_EQ(Parsed("9999-12-31T23:59:59Z"), "refused");
  EXPECT_EQ(Parsed("1677-09-21T00:12:43.145225Z"), "1677-09-21T00:12:43.145Z");
  EXPECT_EQ(Parsed("1677-09-21T00:12:43.145224Z"), "refused");
  EXPECT_EQ(Parsed("0000-01-01T00:00:00Z"), "refused");
  // The offset counts: this is 2262-04-11T22:47:16Z.
  EXPECT_EQ(Parsed("2262-04-11T23:47:16+01:00"), "2262-04-11T22:47:16.000Z");
  EXPECT_EQ(Parsed("2026-01-01T00:00:00.5Z"), "2026-01-01T00:00:00.500Z");
}

}  // namespace
}  // namespace execgov
