// The ExecutionPolicy status the reconciler writes: Ready with a reason and
// the compile error, observedGeneration, keys; no write when nothing changed.
#include <gtest/gtest.h>

#include "controllers/policy_controller.h"
#include "controllers/status_conditions.h"
#include "core/clock.h"

namespace execgov::controllers {
namespace {

PolicyCompileResult Valid(int64_t generation, size_t keys) {
  PolicyCompileResult r;
  r.name = "default";
  r.generation = generation;
  r.keys = keys;
  r.summary = "1 issuer, " + std::to_string(keys) + (keys == 1 ? " key" : " keys");
  return r;
}

PolicyCompileResult Invalid(int64_t generation, std::string error) {
  PolicyCompileResult r;
  r.name = "default";
  r.generation = generation;
  r.status = InvalidArgument(std::move(error));
  return r;
}

TEST(PolicyStatusTest, ValidPolicyIsReadyWithItsKeysAndGeneration) {
  FakeClock clock(1800000000);
  bool changed = false;
  auto status = DesiredPolicyStatus(nlohmann::json(), Valid(3, 2), clock.Now(), &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(status["observedGeneration"], 3);
  EXPECT_EQ(status["keys"], 2);
  const auto* ready = FindCondition(status["conditions"], "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ((*ready)["status"], "True");
  EXPECT_EQ((*ready)["reason"], "Valid");
  EXPECT_EQ((*ready)["message"], "1 issuer, 2 keys");

  // The same result again: nothing to write.
  clock.Advance(std::chrono::seconds(30));
  auto again = DesiredPolicyStatus(status, Valid(3, 2), clock.Now(), &changed);
  EXPECT_FALSE(changed);
  EXPECT_EQ(again, status);
}

TEST(PolicyStatusTest, MalformedKeyIsNotReadyWithInvalidKeyAndTheField) {
  FakeClock clock(1800000000);
  bool changed = false;
  auto ready_status = DesiredPolicyStatus(nlohmann::json(), Valid(1, 1), clock.Now(), &changed);
  clock.Advance(std::chrono::seconds(5));
  std::string error = "ExecutionPolicy default: spec.issuers[0].keys[0].publicKey: not a PEM public key";
  auto status = DesiredPolicyStatus(ready_status, Invalid(2, error), clock.Now(), &changed);
  EXPECT_TRUE(changed);
  const auto* ready = FindCondition(status["conditions"], "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ((*ready)["status"], "False");
  EXPECT_EQ((*ready)["reason"], "InvalidKey");
  EXPECT_EQ((*ready)["message"], error);
  EXPECT_EQ((*ready)["lastTransitionTime"], FormatRfc3339(clock.Now()));
  EXPECT_EQ(status["observedGeneration"], 2);
  EXPECT_EQ(status["keys"], 0);
}

TEST(PolicyStatusTest, ReasonsNameWhatIsWrong) {
  EXPECT_EQ(PolicyFailureReason(InvalidArgument("ExecutionPolicy p: spec.issuers[1].keys[0].algorithm: \"RS256\" is not Ed25519 or ES256")),
            "InvalidKey");
  EXPECT_EQ(PolicyFailureReason(InvalidArgument("ExecutionPolicy p: spec.issuers[0].keys[0].publicKeyRef: Secret x not found")),
            "InvalidKey");
  EXPECT_EQ(PolicyFailureReason(InvalidArgument("ExecutionPolicy p: spec.maxTTL: \"forever\" is not a duration")),
            "InvalidSpec");
}

}  // namespace
}  // namespace execgov::controllers
