// GrantIndex (issue 20): what the authority learns from the ledger decides
// whether it may grant: one grant per request, whoever recorded it first,
// refusals remembered, and rate-limit counts per rule and initiator.
#include <gtest/gtest.h>

#include "authority/authority_controller.h"

namespace execgov::authority {
namespace {

using nlohmann::json;

std::string GrantRecord(const std::string& uid, const std::string& jti, int64_t iat) {
  return json{{"type", "grant"},
              {"seq", 4},
              {"object", {{"kind", "ExecutionRequest"}, {"uid", uid}}},
              {"initiator", "agent:a"},
              {"rule", {{"policy", "ops"}, {"name", "auto"}, {"generation", 1}}},
              {"claims", {{"jti", jti}, {"iat", iat}, {"exp", iat + 600}, {"sub", "agent:a"}}}}
      .dump();
}

TEST(GrantIndexTest, TheFirstGrantOfARequestIsItsGrant) {
  GrantIndex index;
  index.Observe(GrantRecord("u1", "jti-first", 1000));
  index.Observe(GrantRecord("u1", "jti-second", 1001));
  auto g = index.FindGrant("u1");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->claims["jti"], "jti-first");
  EXPECT_EQ(g->rule, "ops/auto");
  EXPECT_EQ(g->exp, 1600);
  EXPECT_FALSE(index.FindGrant("u2").has_value());
  EXPECT_EQ(index.CountGrants("ops/auto", "agent:a", 0), 1);
}

TEST(GrantIndexTest, RefusalsAndOtherRecords) {
  GrantIndex index;
  index.Observe(json{{"type", "denial"}, {"object", {{"uid", "u3"}}}, {"reason", "Expired"}}.dump());
  index.Observe(json{{"type", "admission"}, {"object", {{"uid", "u4"}}}}.dump());
  index.Observe("{\"type\":\"grant\" not json");
  index.Observe(json{{"type", "grant"}, {"object", {{"uid", "u5"}}}}.dump());  // no claims
  EXPECT_TRUE(index.Refused("u3"));
  EXPECT_FALSE(index.Refused("u4"));
  EXPECT_FALSE(index.FindGrant("u4").has_value());
  EXPECT_FALSE(index.FindGrant("u5").has_value());
}

TEST(GrantIndexTest, AdmissionsAwaitingAuthorization) {
  GrantIndex index;
  auto admission = [](const std::string& uid, const std::string& decision, const std::string& kind) {
    return json{{"type", "admission"}, {"decision", decision}, {"authorization", "awaiting"}, {"initiator", "agent:a"},
                {"object", {{"kind", kind}, {"uid", uid}}}}.dump();
  };
  index.Observe(admission("u1", "allowed", "ExecutionRequest"));
  index.Observe(admission("u2", "denied", "ExecutionRequest"));
  index.Observe(admission("u3", "allowed", "Job"));
  index.Observe(json{{"type", "admission"}, {"decision", "allowed"}, {"object", {{"kind", "ExecutionRequest"}, {"uid", "u4"}}}}.dump());
  EXPECT_EQ(index.AdmittedInitiator("u1"), "agent:a");
  EXPECT_FALSE(index.AdmittedInitiator("u2").has_value());
  EXPECT_FALSE(index.AdmittedInitiator("u3").has_value());
  EXPECT_FALSE(index.AdmittedInitiator("u4").has_value());
}

TEST(GrantIndexTest, RateCountsPerRuleAndInitiatorSince) {
  GrantIndex index;
  for (int i = 0; i < 3; ++i) index.NoteGrant("u" + std::to_string(i), {json::object(), "ops/auto", "agent:a", 100 * i, 0});
  index.NoteGrant("other", {json::object(), "ops/auto", "agent:b", 250, 0});
  EXPECT_EQ(index.CountGrants("ops/auto", "agent:a", 0), 3);
  EXPECT_EQ(index.CountGrants("ops/auto", "agent:a", 100), 2);
  EXPECT_EQ(index.CountGrants("ops/auto", "agent:b", 0), 1);
  EXPECT_EQ(index.CountGrants("ops/other", "agent:a", 0), 0);
}

}  // namespace
}  // namespace execgov::authority
