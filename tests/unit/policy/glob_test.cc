#include <gtest/gtest.h>

#include "policy/glob.h"
#include "policy/label_selector.h"

namespace execgov::policy {
namespace {

TEST(GlobTest, Matching) {
  EXPECT_TRUE(GlobMatch("agent:*", "agent:rotator"));
  EXPECT_TRUE(GlobMatch("agent:*", "agent:"));
  EXPECT_FALSE(GlobMatch("agent:*", "human:bob"));
  EXPECT_TRUE(GlobMatch("registry.example.com/*", "registry.example.com/tools/rotate@sha256:ab"));
  EXPECT_FALSE(GlobMatch("registry.example.com/*", "registry.example.com.evil.io/x"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_TRUE(GlobMatch("*a*b*c*", "xxaxxbxxcxx"));
  EXPECT_TRUE(GlobMatch("exact", "exact"));
  EXPECT_FALSE(GlobMatch("exact", "exactly"));
  // Pathological patterns stay fast (no exponential backtracking).
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST(GlobTest, Validity) {
  EXPECT_TRUE(IsValidGlob("agent:*"));
  EXPECT_FALSE(IsValidGlob(""));
  EXPECT_FALSE(IsValidGlob("[a-z]"));
}

TEST(LabelSelectorTest, Operators) {
  auto sel = LabelSelector::FromJson(
      {{"matchLabels", {{"tier", "prod"}}},
       {"matchExpressions",
        {{{"key", "team"}, {"operator", "In"}, {"values", {"a", "b"}}},
         {{"key", "legacy"}, {"operator", "DoesNotExist"}}}}},
      "sel");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches({{"tier", "prod"}, {"team", "a"}}));
  EXPECT_FALSE(sel->Matches({{"tier", "prod"}, {"team", "c"}}));
  EXPECT_FALSE(sel->Matches({{"tier", "prod"}, {"team", "a"}, {"legacy", ""}}));
  EXPECT_TRUE(LabelSelector::FromJson(nlohmann::json::object(), "s")->Matches({}));
  EXPECT_FALSE(LabelSelector::FromJson({{"matchExpressions", {{{"key", "a"}, {"operator", "In"}}}}}, "s").ok());
}

}  // namespace
}  // namespace execgov::policy
