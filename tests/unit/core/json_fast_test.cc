// ParseJsonFast against nlohmann's own parse, the reference it must match: on
// every JSON file of the shared test vectors and on the cases where the two
// parsers could differ (repeated members, -0, integers past 64 bits, huge
// exponents, surrogates, bad UTF-8, deep nesting), it gives exactly
// nlohmann's value, types included, or nothing; and nothing whenever
// nlohmann refuses the text.
#include "core/json_fast.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace execgov {
namespace {

using Json = nlohmann::json;

// Equal values of equal types, all the way down (nlohmann's == calls 1 and
// 1u and 1.0 equal).
::testing::AssertionResult Same(const Json& a, const Json& b, const std::string& path = "$") {
  if (a.type() != b.type()) {
    return ::testing::AssertionFailure() << path << ": type " << a.type_name() << " vs " << b.type_name()
                                         << " (" << a.dump() << " vs " << b.dump() << ")";
  }
  switch (a.type()) {
    case Json::value_t::object: {
      if (a.size() != b.size()) {
        return ::testing::AssertionFailure() << path << ": " << a.size() << " vs " << b.size() << " members";
      }
      for (auto it = a.begin(); it != a.end(); ++it) {
        auto other = b.find(it.key());
        if (other == b.end()) return ::testing::AssertionFailure() << path << ": no member " << it.key();
        auto r = Same(it.value(), *other, path + "." + it.key());
        if (!r) return r;
      }
      return ::testing::AssertionSuccess();
    }
    case Json::value_t::array: {
      if (a.size() != b.size()) {
        return ::testing::AssertionFailure() << path << ": " << a.size() << " vs " << b.size() << " items";
      }
      for (size_t i = 0; i < a.size(); ++i) {
        auto r = Same(a[i], b[i], path + "[" + std::to_string(i) + "]");
        if (!r) return r;
      }
      return ::testing::AssertionSuccess();
    }
    case Json::value_t::number_float: {
      double x = a.get<double>(), y = b.get<double>();
      if (std::memcmp(&x, &y, sizeof x) != 0) return ::testing::AssertionFailure() << path << ": " << x << " vs " << y;
      return ::testing::AssertionSuccess();
    }
    default:
      if (a != b) return ::testing::AssertionFailure() << path << ": " << a.dump() << " vs " << b.dump();
      return ::testing::AssertionSuccess();
  }
}

// The contract, for one text. Returns whether the fast parse answered.
bool ExpectMatchesNlohmann(const std::string& text, const std::string& what) {
  Json reference = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::optional<Json> fast = ParseJsonFast(text);
  if (reference.is_discarded()) {
    EXPECT_FALSE(fast.has_value()) << what << ": nlohmann refuses it, and the fast parse gave " << fast->dump();
    return false;
  }
  if (fast) {
    EXPECT_TRUE(Same(*fast, reference)) << what;
  }
  return fast.has_value();
}

TEST(ParseJsonFastTest, MatchesNlohmannOnEverySharedTestVector) {
  int files = 0, answered = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(EXECGOV_TESTDATA)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    ++files;
    answered += ExpectMatchesNlohmann(text.str(), entry.path().string());
  }
  ASSERT_GT(files, 100);
  // Nearly all of them are small, valid documents the fast parse takes.
  EXPECT_GT(answered, files * 9 / 10) << answered << " of " << files;
}

TEST(ParseJsonFastTest, MatchesNlohmannWhereTheParsersCouldDiffer) {
  const std::vector<std::string> cases = {
      R"({"a":1,"a":2,"b":{"c":true,"c":false}})",  // a repeated member: the last wins
      "0", "-0", "[-0]", "{\"a\":-0 }", "[\"job-0\",0]", "-0.0", "0.0", "-1", "1.5", "-1.5e-7", "1E2",
      "1e400", "-1e400", "4.9e-324", "1e-400",
      "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
      "18446744073709551615", "18446744073709551616", "123456789012345678901234567890",
      R"("\u0000 \" \\ \/ \b \f \n \r \t")", R"("\ud83d\ude00 \u00e9 é 日本")", R"("\ud800")", R"("\udc00\ud800")",
      "\"\xff\"", "\"\xc3\x28\"", "\"\xed\xa0\x80\"", "\"a\x01\"",
      "[1,2,]", "{\"a\":1,}", "{} x", "", "  ", "nul", "[", "{\"a\"}", "01", "1.", ".5", "+1", "NaN", "Infinity",
      " \t\n\r[ 1 , { \"k\" : [ ] } ] \n", "[[[[[]]]]]", "{\"\":\"\"}", "true", "false", "null",
  };
  int answered = 0;
  for (const auto& text : cases) answered += ExpectMatchesNlohmann(text, "case `" + text + "`");
  EXPECT_GT(answered, 20);
  // Deeper than simdjson goes, and larger than the fast path takes: nothing,
  // so the caller's nlohmann parse decides.
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_FALSE(ParseJsonFast(deep).has_value());
  EXPECT_TRUE(ExpectMatchesNlohmann(R"({"a":1})", "small object"));
  std::string big = "[\"" + std::string(kFastJsonMaxBytes, 'x') + "\"]";
  EXPECT_FALSE(ParseJsonFast(big).has_value());
}

TEST(ParseJsonFastTest, AnAdmissionReviewComesOutAsNlohmannReadsIt) {
  const std::string review = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
    "uid":"705ab4f5-6393-11e8-b7cc-42010a800002","kind":{"group":"batch","version":"v1","kind":"Job"},
    "operation":"CREATE","userInfo":{"username":"agent:ci","groups":["system:authenticated"]},"dryRun":false,
    "object":{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j","namespace":"agents","generation":1,
    "annotations":{"execgov.io/authorization":"eyJ.eyJ.c2ln"}},"spec":{"backoffLimit":6,"completions":1,
    "template":{"spec":{"containers":[{"name":"main","image":"r/x@sha256:00","resources":{"limits":{"cpu":0.5}},
    "env":[{"name":"N","value":"-1"}]}],"terminationGracePeriodSeconds":30,"activeDeadlineSeconds":-5}}}}}})";
  EXPECT_TRUE(ExpectMatchesNlohmann(review, "AdmissionReview"));
}

// The strict form (what an artifact's header and claims are read with)
// answers only for text without a repeated member name, at any depth, and
// then with the same value as the lenient form.
TEST(ParseJsonFastTest, RefusingDuplicatesGivesNothingForARepeatedNameAtAnyDepth) {
  for (const char* text : {R"({"a":1,"a":2})", R"({"x":{"b":true,"b":false}})", R"([{"c":"1"},{"d":[{"e":1,"e":1}]}])"}) {
    EXPECT_FALSE(ParseJsonFast(text, /*refuse_duplicates=*/true).has_value()) << text;
    auto lenient = ParseJsonFast(text);
    ASSERT_TRUE(lenient.has_value()) << text;
    EXPECT_TRUE(Same(*lenient, Json::parse(text))) << text;  // the last one wins, as nlohmann has it
  }
  const char* unique = R"({"alg":"EdDSA","kid":"k","nested":{"a":[1,-2,3.5,"x",null],"b":{}},"n":18446744073709551615})";
  auto strict = ParseJsonFast(unique, /*refuse_duplicates=*/true);
  ASSERT_TRUE(strict.has_value());
  EXPECT_TRUE(Same(*strict, Json::parse(unique)));
}

// Omitting: nlohmann's value with exactly the members at the given paths
// erased, wherever the text has them, and nothing else touched.
Json Erased(Json v, const std::vector<JsonPath>& omit) {
  for (const JsonPath& path : omit) {
    Json* at = &v;
    for (size_t i = 0; at != nullptr && i + 1 < path.size(); ++i) {
      at = at->is_object() && at->contains(std::string(path[i])) ? &(*at)[std::string(path[i])] : nullptr;
    }
    if (at != nullptr && at->is_object()) at->erase(std::string(path.back()));
  }
  return v;
}

TEST(ParseJsonFastTest, OmittingLeavesOutExactlyThoseMembers) {
  const std::vector<JsonPath> omit = {{"a", "b", "drop"}, {"a", "gone"}, {"top"}};
  const std::vector<std::string> cases = {
      R"({"a":{"b":{"drop":{"x":[1,{"y":{}}]},"keep":1},"gone":[1,2],"b2":{"drop":3}},"top":null,"c":{"drop":1}})",
      // A path through an array or a scalar leaves it whole.
      R"({"a":[{"b":{"drop":1}}],"top":{"a":1}})", R"({"a":{"b":7,"gone":"s"}})", R"({"a":"b"})",
      // Repeated members: the last wins, and an omitted one stays out.
      R"({"a":{"b":{"drop":1,"drop":2,"keep":1},"b":{"drop":3,"keep":2}},"top":1,"top":2})",
      // Same names at other depths stay.
      R"({"drop":1,"gone":2,"b":{"drop":3},"x":{"a":{"gone":4}}})", "[1,2]", "{}", "7"};
  for (const std::string& text : cases) {
    auto got = ParseJsonFastOmitting(text, omit);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_TRUE(Same(*got, Erased(Json::parse(text), omit))) << text << " gave " << got->dump();
  }
  // The omitted members are still read as JSON: bad text inside one is refused.
  EXPECT_FALSE(ParseJsonFastOmitting(R"({"top":[1,}})", omit).has_value());
  EXPECT_FALSE(ParseJsonFastOmitting("{\"top\":\"\xff\"}", omit).has_value());
  // No paths at all is the plain parse; an empty path or too many, nothing.
  EXPECT_TRUE(Same(*ParseJsonFastOmitting(cases[0], {}), Json::parse(cases[0])));
  EXPECT_FALSE(ParseJsonFastOmitting(cases[0], {JsonPath{}}).has_value());
  EXPECT_FALSE(ParseJsonFastOmitting(cases[0], std::vector<JsonPath>(kMaxOmitted + 1, JsonPath{"top"})).has_value());
  EXPECT_TRUE(ParseJsonFastOmitting(cases[0], std::vector<JsonPath>(kMaxOmitted, JsonPath{"top"})).has_value());
}


std::string Nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(CheckJsonLimitsTest, NestingIsRefusedPastTheLimitOnly) {
  EXPECT_TRUE(CheckJsonLimits(Nested(kMaxJsonDepth)).ok());
  Status over = CheckJsonLimits(Nested(kMaxJsonDepth + 1));
  EXPECT_EQ(over.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(over.message().find("deeper than 64 levels"), std::string::npos) << over.message();
  // Objects count as arrays do, mixed, and a text that never closes is
  // refused as soon as it is too deep.
  std::string mixed;
  for (size_t i = 0; i < kMaxJsonDepth; ++i) mixed += i % 2 ? "[" : "{\"k\":";
  EXPECT_TRUE(CheckJsonLimits(mixed + "1").ok());
  EXPECT_FALSE(CheckJsonLimits(mixed + "[1").ok());
  EXPECT_FALSE(CheckJsonLimits(std::string(100000, '[')).ok());
  EXPECT_FALSE(CheckJsonLimits(Nested(100000)).ok());
  // Siblings do not add up: depth, not count.
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += Nested(kMaxJsonDepth - 1) + ",";
  EXPECT_TRUE(CheckJsonLimits(wide + "0]").ok());
}

TEST(CheckJsonLimitsTest, BracketsInStringsDoNotCount) {
  std::string in_string = "[\"" + std::string(1000, '[') + "\"]";
  EXPECT_TRUE(CheckJsonLimits(in_string).ok());
  // An escaped quote does not end the string; an escaped backslash before
  // the quote does.
  EXPECT_TRUE(CheckJsonLimits("[\"\\\"" + std::string(1000, '[') + "\"]").ok());
  EXPECT_FALSE(CheckJsonLimits("[\"\\\\\"" + std::string(1000, '[')).ok());
}

TEST(CheckJsonLimitsTest, ANulByteIsRefusedWhereverItIs) {
  // nlohmann's parse takes a NUL for the end of the text: the document
  // before it would be accepted with anything after.
  const std::string doc = "{\"a\":1}";
  EXPECT_FALSE(Json::parse(doc + std::string(1, '\0') + "junk", nullptr, false).is_discarded());
  for (const std::string& text : {doc + std::string(1, '\0'), doc + std::string(1, '\0') + "junk",
                                  "{\"a\":\"x" + std::string(1, '\0') + "y\"}", std::string(1, '\0')}) {
    Status st = CheckJsonLimits(text);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("NUL"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(CheckJsonLimits("{\"a\":\"\\u0000\"}").ok());  // the escape is fine
}

TEST(ParseJsonFastTest, NeverRecursesPastTheLimit) {
  // Even without the check, the fast path stops at the limit (nullopt).
  EXPECT_TRUE(ParseJsonFast(Nested(kMaxJsonDepth)).has_value());
  EXPECT_FALSE(ParseJsonFast(Nested(kMaxJsonDepth + 2)).has_value());
}
}  // namespace
}  // namespace execgov
