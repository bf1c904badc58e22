// Conditions change only when they should: a repeated reconcile writes
// nothing, and lastTransitionTime moves only with the status.
#include <gtest/gtest.h>

#include "controllers/status_conditions.h"
#include "core/clock.h"

namespace execgov::controllers {
namespace {

TEST(SetConditionTest, AddsThenLeavesAnUnchangedConditionAlone) {
  FakeClock clock(1800000000);
  nlohmann::json conditions;  // null: no conditions yet
  ASSERT_TRUE(SetCondition(conditions, {"Ready", "True", "Valid", "1 issuer, 1 key", 1}, clock.Now()));
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0]["lastTransitionTime"], FormatRfc3339(clock.Now()));
  clock.Advance(std::chrono::seconds(60));
  EXPECT_FALSE(SetCondition(conditions, {"Ready", "True", "Valid", "1 issuer, 1 key", 1}, clock.Now()));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], "2027-01-15T08:00:00Z");
}

TEST(SetConditionTest, TransitionTimeMovesWithTheStatusOnly) {
  FakeClock clock(1800000000);
  nlohmann::json conditions = nlohmann::json::array();
  SetCondition(conditions, {"Ready", "True", "Valid", "1 issuer, 1 key", 1}, clock.Now());
  std::string first = conditions[0]["lastTransitionTime"];

  clock.Advance(std::chrono::seconds(10));
  // Same status, new message and generation: changed, same transition time.
  ASSERT_TRUE(SetCondition(conditions, {"Ready", "True", "Valid", "1 issuer, 2 keys", 2}, clock.Now()));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], first);
  EXPECT_EQ(conditions[0]["message"], "1 issuer, 2 keys");
  EXPECT_EQ(conditions[0]["observedGeneration"], 2);

  clock.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(SetCondition(conditions, {"Ready", "False", "InvalidKey", "bad PEM", 3}, clock.Now()));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], FormatRfc3339(clock.Now()));
  EXPECT_NE(conditions[0]["lastTransitionTime"], first);
  EXPECT_EQ(conditions.size(), 1u);
}

TEST(SetConditionTest, KeepsOtherTypesAndFindsByType) {
  FakeClock clock(1800000000);
  nlohmann::json conditions;
  SetCondition(conditions, {"Authorized", "True", "Verified", "ok", 1}, clock.Now());
  SetCondition(conditions, {"Complete", "True", "JobComplete", "done", 1}, clock.Now());
  ASSERT_EQ(conditions.size(), 2u);
  ASSERT_NE(FindCondition(conditions, "Complete"), nullptr);
  EXPECT_EQ((*FindCondition(conditions, "Authorized"))["reason"], "Verified");
  EXPECT_EQ(FindCondition(conditions, "Ready"), nullptr);
  EXPECT_EQ(FindCondition(nlohmann::json(), "Ready"), nullptr);
}

}  // namespace
}  // namespace execgov::controllers
