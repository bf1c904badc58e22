// RFC 8785 canonicalization against the cyberphone/json-canonicalization
// vectors in ../shared/testdata/jcs, plus the strict parser's refusals.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/file.h"
#include "core/json_fast.h"
#include "crypto/json.h"

namespace execgov::crypto {
namespace {

namespace fs = std::filesystem;

TEST(JcsTest, EveryVectorCanonicalizesByteForByte) {
  fs::path dir = fs::path(EXECGOV_TESTDATA) / "jcs";
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(dir / "input")) {
    SCOPED_TRACE(entry.path().filename().string());
    auto input = ReadFile(entry.path().string());
    auto expected = ReadFile((dir / "output" / entry.path().filename()).string());
    ASSERT_TRUE(input.ok() && expected.ok());
    auto parsed = ParseJsonStrict(*input);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    auto canonical = Canonicalize(*parsed);
    ASSERT_TRUE(canonical.ok());
    EXPECT_EQ(*canonical, *expected);
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(JcsTest, NumbersFollowEcmaScript) {
  // Values and spellings from RFC 8785 Appendix B and ECMA-262 Number::toString.
  EXPECT_EQ(FormatEcmaNumber(0.0), "0");
  EXPECT_EQ(FormatEcmaNumber(-0.0), "0");
  EXPECT_EQ(FormatEcmaNumber(1e21), "1e+21");
  EXPECT_EQ(FormatEcmaNumber(1e20), "100000000000000000000");
  EXPECT_EQ(FormatEcmaNumber(1e-7), "1e-7");
  EXPECT_EQ(FormatEcmaNumber(0.000001), "0.000001");
  EXPECT_EQ(FormatEcmaNumber(123.456), "123.456");
  EXPECT_EQ(FormatEcmaNumber(-1.5), "-1.5");
  EXPECT_EQ(FormatEcmaNumber(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(FormatEcmaNumber(5e-324), "5e-324");
  EXPECT_EQ(FormatEcmaNumber(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(FormatEcmaNumber(333333333.3333333), "333333333.3333333");
}

TEST(JcsTest, KeysSortByUtf16CodeUnits) {
  // U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16 order,
  // though after it in UTF-8 byte order.
  auto parsed = ParseJsonStrict("{\"\\ufb33\":1,\"\\ud83d\\ude00\":2}");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*Canonicalize(*parsed), "{\"\xF0\x9F\x98\x80\":2,\"\xEF\xAC\xB3\":1}");
}

TEST(JcsTest, NonFiniteNumbersHaveNoCanonicalForm) {
  Json j = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(Canonicalize(j).ok());
}

TEST(StrictJsonTest, DuplicateMembersAreRefusedAtAnyDepth) {
  EXPECT_FALSE(ParseJsonStrict(R"({"a":1,"a":2})").ok());
  EXPECT_FALSE(ParseJsonStrict(R"({"x":{"b":1,"b":1}})").ok());
  EXPECT_FALSE(ParseJsonStrict(R"([{"c":1},{"d":{"e":1,"e":2}}])").ok());
  // The same name in sibling objects is fine.
  EXPECT_TRUE(ParseJsonStrict(R"([{"c":1},{"c":2}])").ok());
  EXPECT_TRUE(ParseJsonStrict(R"({"a":{"a":1}})").ok());
}

TEST(StrictJsonTest, MalformedTextIsAnErrorNotAnException) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "nul", "{\"a\":1}x", "\"\\ud800\""}) {
    auto r = ParseJsonStrict(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}


TEST(StrictJson, NestingPastTheLimitIsRefusedBeforeParsing) {
  auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(ParseJsonStrict(nested(kMaxJsonDepth)).ok());
  for (size_t depth : {kMaxJsonDepth + 1, size_t{100000}}) {
    auto r = ParseJsonStrict(nested(depth));
    ASSERT_FALSE(r.ok()) << depth;
    EXPECT_NE(r.status().message().find("deeper than 64 levels"), std::string::npos) << r.status().message();
  }
  // A NUL after the document (nlohmann's parse would stop there and accept).
  auto nul = ParseJsonStrict(std::string("{\"alg\":\"EdDSA\"}") + std::string(1, '\0') + "x");
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.status().message().find("NUL"), std::string::npos);
}

TEST(Jcs, NestingPastTheLimitIsRefused) {
  // Built in code, not parsed: Canonicalize bounds its own recursion.
  auto nested = [](size_t depth) {
    Json v = Json::array();
    for (size_t i = 1; i < depth; ++i) v = Json::array({std::move(v)});
    return v;
  };
  auto at = Canonicalize(nested(kMaxJsonDepth));
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  EXPECT_EQ(*at, std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']'));
  for (size_t depth : {kMaxJsonDepth + 1, size_t{1000}}) {
    auto r = Canonicalize(nested(depth));
    ASSERT_FALSE(r.ok()) << depth;
    EXPECT_NE(r.status().message().find("deeper than 64 levels"), std::string::npos) << r.status().message();
  }
  Json obj = Json::object();
  for (size_t i = 0; i <= kMaxJsonDepth; ++i) obj = Json{{"k", std::move(obj)}};
  EXPECT_FALSE(Canonicalize(obj).ok());
}
}  // namespace
}  // namespace execgov::crypto
