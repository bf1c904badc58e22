// AuthorityPolicy rules (issue 20): compiling refuses what the CRD refuses and
// names the field; matching takes the first rule that applies, by policy name
// then rule order, with every selector and the time windows (UTC).
#include <gtest/gtest.h>

#include "authority/authority_policy.h"

namespace execgov::authority {
namespace {

using nlohmann::json;

json Policy(const std::string& name, json rules) {
  return {{"apiVersion", "execgov.io/v1alpha1"},
          {"kind", "AuthorityPolicy"},
          {"metadata", {{"name", name}, {"generation", 2}}},
          {"spec", {{"rules", std::move(rules)}}}};
}

std::shared_ptr<const CompiledAuthorityPolicy> Compile(const json& p) {
  auto c = CompileAuthorityPolicy(p);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}

// 2026-12-07 (a Monday) 09:30 UTC.
constexpr int64_t kMonday0930 = 1796635800;

TEST(AuthorityPolicyTest, CompilesEveryField) {
  auto p = Compile(Policy("ops", {{{"name", "ci"},
                                   {"match",
                                    {{"namespaces", {"ci-*"}},
                                     {"initiators", {"agent:*"}},
                                     {"serviceAccounts", {"agents/bot"}},
                                     {"images", {"registry.example.com/*"}},
                                     {"kinds", {"ExecutionRequest", "Job"}}}},
                                   {"action", "RequireApprovals"},
                                   {"approvals", {{"count", 2}, {"groups", {"ops"}}}},
                                   {"ttl", "5m"},
                                   {"timeout", "2h"},
                                   {"rateLimit", {{"count", 3}, {"per", "1h"}}},
                                   {"timeWindows", {{{"days", {"Mon", "Fri"}}, {"start", "08:00"}, {"end", "18:00"}}}}}}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->generation, 2);
  const AuthorityRule& r = p->rules.at(0);
  EXPECT_EQ(r.action, Action::kRequireApprovals);
  EXPECT_EQ(r.approvals, 2);
  EXPECT_EQ(r.ttl_seconds, 300);
  EXPECT_EQ(r.timeout_seconds, 7200);
  EXPECT_EQ(r.rate_count, 3);
  EXPECT_EQ(r.rate_per_seconds, 3600);
  EXPECT_EQ(r.initiators, (std::vector<std::string>{"agent:*", "system:serviceaccount:agents:bot"}));
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0].days, (std::set<int>{0, 4}));
  EXPECT_EQ(r.windows[0].start_minute, 480);
  EXPECT_EQ(r.windows[0].end_minute, 1080);
}

TEST(AuthorityPolicyTest, RefusalsNameTheField) {
  const json ok = {{"name", "r"}, {"action", "AutoApprove"}};
  struct Case {
    std::function<void(json&)> edit;
    const char* want;
  };
  std::vector<Case> cases = {
      {[](json& r) { r.erase("name"); }, "spec.rules[0].name: is required"},
      {[](json& r) { r["name"] = "Not_A_Name"; }, "spec.rules[0].name"},
      {[](json& r) { r["action"] = "Approve"; }, "spec.rules[0].action: must be AutoApprove"},
      {[](json& r) { r["action"] = "RequireApprovals"; }, "spec.rules[0].approvals: is required"},
      {[](json& r) { r["approvals"] = {{"count", 1}, {"groups", {"g"}}}; }, "applies only to RequireApprovals"},
      {[](json& r) { r["action"] = "RequireApprovals"; r["approvals"] = {{"count", 11}, {"groups", {"g"}}}; },
       "approvals.count: must be an integer from 1 to 10"},
      {[](json& r) { r["action"] = "RequireApprovals"; r["approvals"] = {{"count", 1}}; }, "approvals.groups: must name"},
      {[](json& r) { r["ttl"] = "soon"; }, "spec.rules[0].ttl"},
      {[](json& r) { r["timeout"] = "200h"; }, "spec.rules[0].timeout: is longer than"},
      {[](json& r) { r["match"] = {{"images", {"a[b]"}}}; }, "match.images: \"a[b]\" is not a valid glob"},
      {[](json& r) { r["match"] = {{"serviceAccounts", {"bot"}}}; }, "match.serviceAccounts: \"bot\" is not NAMESPACE/NAME"},
      {[](json& r) { r["match"] = {{"kinds", {"Deployment"}}}; }, "match.kinds"},
      {[](json& r) { r["match"] = {{"users", {"a"}}}; }, "spec.rules[0].match.users: unknown field"},
      {[](json& r) { r["rateLimit"] = {{"count", 0}, {"per", "1h"}}; }, "rateLimit.count"},
      {[](json& r) { r["rateLimit"] = {{"count", 1}}; }, "rateLimit.per: is required"},
      {[](json& r) { r["timeWindows"] = {{{"days", {"Monday"}}}}; }, "timeWindows[0].days"},
      {[](json& r) { r["timeWindows"] = {{{"start", "18:00"}, {"end", "08:00"}}}; }, "start must be before end"},
      {[](json& r) { r["timeWindows"] = {{{"start", "8am"}}}; }, "timeWindows[0].start: must be a time of day"},
  };
  for (const auto& c : cases) {
    json rule = ok;
    c.edit(rule);
    auto compiled = CompileAuthorityPolicy(Policy("ops", {rule}));
    ASSERT_FALSE(compiled.ok()) << rule.dump();
    EXPECT_NE(compiled.status().message().find(c.want), std::string::npos) << compiled.status().message();
    EXPECT_EQ(compiled.status().message().rfind("AuthorityPolicy ops: ", 0), 0u) << compiled.status().message();
  }
  EXPECT_FALSE(CompileAuthorityPolicy(Policy("ops", json::array())).ok());
  EXPECT_FALSE(CompileAuthorityPolicy(Policy("ops", {ok, ok})).ok());  // a name twice
  json unknown = Policy("ops", {ok});
  unknown["spec"]["default"] = "AutoApprove";
  EXPECT_FALSE(CompileAuthorityPolicy(unknown).ok());
}

TEST(AuthorityPolicyTest, TheFirstRuleThatAppliesDecides) {
  auto a = Compile(Policy("a", {{{"name", "deny-danger"}, {"match", {{"images", {"*/danger/*"}}}}, {"action", "AutoDeny"}},
                                {{"name", "agents"}, {"match", {{"initiators", {"agent:*"}}}}, {"action", "AutoApprove"}}}));
  auto b = Compile(Policy("b", {{{"name", "all"}, {"action", "AutoApprove"}}}));
  ASSERT_TRUE(a && b);
  std::vector<std::shared_ptr<const CompiledAuthorityPolicy>> set = {a, b};
  AuthorityRequest req{"ns", "ExecutionRequest", "agent:x", {"r.example/tools/a:1", "r.example/danger/rm:1"}};
  EXPECT_EQ(MatchRule(set, req, kMonday0930)->Name(), "a/deny-danger");
  req.images = {"r.example/tools/a:1"};
  EXPECT_EQ(MatchRule(set, req, kMonday0930)->Name(), "a/agents");
  req.initiator = "alice";
  EXPECT_EQ(MatchRule(set, req, kMonday0930)->Name(), "b/all");
  req.kind = "Pod";  // kinds default to ExecutionRequest
  EXPECT_FALSE(MatchRule(set, req, kMonday0930).has_value());
}

TEST(AuthorityPolicyTest, EveryImageMustMatchAndEverySelectorMust) {
  AuthorityRule r;
  r.kinds = {"ExecutionRequest"};
  r.namespaces = {"team-*"};
  r.initiators = {"system:serviceaccount:team-a:*"};
  r.images = {"registry.example.com/*"};
  AuthorityRequest req{"team-a", "ExecutionRequest", "system:serviceaccount:team-a:bot", {"registry.example.com/x:1"}};
  EXPECT_TRUE(RuleSelects(r, req));
  req.images.push_back("docker.io/evil:1");
  EXPECT_FALSE(RuleSelects(r, req));
  r.action = Action::kAutoDeny;  // a refusal needs only one listed image
  EXPECT_TRUE(RuleSelects(r, req));
  req.images = {"docker.io/evil:1"};
  EXPECT_FALSE(RuleSelects(r, req));
  r.action = Action::kAutoApprove;
  req.images = {"registry.example.com/x:1"};
  req.ns = "other";
  EXPECT_FALSE(RuleSelects(r, req));
  req.ns = "team-a";
  req.initiator = "system:serviceaccount:team-b:bot";
  EXPECT_FALSE(RuleSelects(r, req));
}

TEST(AuthorityPolicyTest, TimeWindowsAreUtcDaysAndMinutes) {
  AuthorityRule r;
  EXPECT_TRUE(WindowOpen(r, kMonday0930));  // none: always
  r.windows = {TimeWindow{{0, 1, 2, 3, 4}, 9 * 60, 17 * 60}};
  EXPECT_TRUE(WindowOpen(r, kMonday0930));
  EXPECT_FALSE(WindowOpen(r, kMonday0930 - 31 * 60));       // 08:59
  EXPECT_TRUE(WindowOpen(r, kMonday0930 - 30 * 60));        // 09:00
  EXPECT_FALSE(WindowOpen(r, kMonday0930 + 7 * 3600 + 1800));  // 17:00: end is exclusive
  EXPECT_FALSE(WindowOpen(r, kMonday0930 - 2 * 86400));     // Saturday
  EXPECT_TRUE(WindowOpen(r, kMonday0930 + 4 * 86400));      // Friday
  EXPECT_FALSE(WindowOpen(r, -1));
}

}  // namespace
}  // namespace execgov::authority
