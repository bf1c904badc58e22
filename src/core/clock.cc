#include "core/clock.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace execgov {

const SystemClock& SystemClock::Get() {
  static const SystemClock clock;
  return clock;
}

namespace {

// Writes v as exactly `width` decimal digits at p (v >= 0, fits in width).
char* PutDigits(char* p, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

}  // namespace

std::string FormatRfc3339(std::chrono::system_clock::time_point t, bool with_millis) {
  using namespace std::chrono;
  // Whole seconds (floored) and the fraction, without turning the seconds
  // back into system_clock's nanoseconds: in the first second of its range
  // (1677-09-21T00:12:43Z) the floored second is below what it can hold.
  const auto since = t.time_since_epoch();
  const auto toward_zero = duration_cast<seconds>(since);
  auto fraction = since - toward_zero;  // (-1 s, 1 s); toward_zero fits, being nearer 0 than t
  sys_seconds secs{toward_zero};
  if (fraction < fraction.zero()) {
    fraction += seconds(1);
    secs -= seconds(1);
  }
  // Civil calendar arithmetic (C++20) instead of gmtime_r, strftime and
  // snprintf: every ledger record and log line carries a time, and those
  // three took about 1 us of each. Years of other widths take the old road.
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const int y = static_cast<int>(ymd.year());
  if (y >= 0 && y <= 9999) {
    const hh_mm_ss hms{secs - day};
    char buf[32];
    char* p = PutDigits(buf, y, 4);
    *p++ = '-';
    p = PutDigits(p, static_cast<unsigned>(ymd.month()), 2);
    *p++ = '-';
    p = PutDigits(p, static_cast<unsigned>(ymd.day()), 2);
    *p++ = 'T';
    p = PutDigits(p, hms.hours().count(), 2);
    *p++ = ':';
    p = PutDigits(p, hms.minutes().count(), 2);
    *p++ = ':';
    p = PutDigits(p, hms.seconds().count(), 2);
    if (with_millis) {
      *p++ = '.';
      p = PutDigits(p, duration_cast<milliseconds>(fraction).count(), 3);
    }
    *p++ = 'Z';
    return std::string(buf, p);
  }
  std::time_t tt = static_cast<std::time_t>(secs.time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf);
  if (with_millis) {
    auto ms = duration_cast<milliseconds>(fraction).count();
    char frac[24];
    std::snprintf(frac, sizeof frac, ".%03lld", static_cast<long long>(ms));
    out += frac;
  }
  return out + "Z";
}

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view s) {
  int year, mon, day, hh, mm, ss;
  if (!Digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mon) || s[7] != '-' ||
      !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2, &hh) || s[13] != ':' ||
      !Digits(s, 14, 2, &mm) || s[16] != ':' || !Digits(s, 17, 2, &ss)) {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100000;
    size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      micros += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !Digits(s, pos + 4, 2, &om))
      return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  // At most 4-digit years: about 3.2e17 microseconds either way, no overflow.
  using std::chrono::microseconds;
  const int64_t total = (DaysFromCivil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss - offset) * 1000000 + micros;
  // system_clock counts nanoseconds in 64 bits (1677 to 2262); converting an
  // instant outside that, such as a "never" of 9999-12-31, would overflow.
  using TimePoint = std::chrono::system_clock::time_point;
  constexpr int64_t kMin = std::chrono::duration_cast<microseconds>(TimePoint::min().time_since_epoch()).count();
  constexpr int64_t kMax = std::chrono::duration_cast<microseconds>(TimePoint::max().time_since_epoch()).count();
  if (total < kMin || total > kMax) return std::nullopt;
  return TimePoint(microseconds(total));
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s == "0") return std::chrono::milliseconds(0);
  double total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double value;
    try {
      value = std::stod(std::string(s.substr(start, i - start)));
    } catch (...) {
      return std::nullopt;
    }
    size_t ustart = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    double scale;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60000;
    else if (unit == "h") scale = 3600000;
    else return std::nullopt;
    total_ms += value * scale;
  }
  if (total_ms > 1e15) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms >= 3600000) { out += std::to_string(ms / 3600000) + "h"; ms %= 3600000; }
  if (ms >= 60000) { out += std::to_string(ms / 60000) + "m"; ms %= 60000; }
  if (ms >= 1000) { out += std::to_string(ms / 1000) + "s"; ms %= 1000; }
  if (ms > 0) out += std::to_string(ms) + "ms";
  return out;
}

}  // namespace execgov
