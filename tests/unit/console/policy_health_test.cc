// The health dashboard's policies: what is shown of a policy's status
// conditions (bounded), and what a list the API server refuses, or a CRD
// that is not installed, becomes.
#include "console/policy_health.h"

#include "console/cluster_view.h"

#include <gtest/gtest.h>

#include <map>

#include "support/fake_kube_client.h"

namespace execgov::console {
namespace {

using nlohmann::json;

// Lists answer per collection path: the items given, or the error given.
class ScriptedLists final : public testing::ListWatchOnlyClient {
 public:
  std::map<std::string, StatusOr<kube::ListResult>> answers;
  std::string last_selector;
  StatusOr<kube::ListResult> List(const std::string& path, const kube::ListOptions& options) override {
    last_selector = options.label_selector;
    auto it = answers.find(path);
    return it == answers.end() ? StatusOr<kube::ListResult>(Internal("unexpected list " + path)) : it->second;
  }
  Status Watch(const std::string&, const kube::WatchOptions&,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>&) override {
    return Internal("no watch here");
  }
};

json Policy(const std::string& name, json conditions) {
  return {{"metadata", {{"name", name}, {"generation", 3}}},
          {"status", {{"observedGeneration", 2}, {"conditions", std::move(conditions)}}}};
}

TEST(ConsolePolicyHealthTest, ShowsEachConditionAndTheReadyStatus) {
  json v = PolicyHealthView(Policy("team-a", json::array({{{"type", "Ready"},
                                                            {"status", "False"},
                                                            {"reason", "InvalidKey"},
                                                            {"message", "spec.issuers[0].keys[0]: not a key"},
                                                            {"lastTransitionTime", "2026-12-05T08:00:00Z"},
                                                            {"observedGeneration", 2}}})));
  EXPECT_EQ(v["name"], "team-a");
  EXPECT_EQ(v["generation"], 3);
  EXPECT_EQ(v["observedGeneration"], 2);
  EXPECT_EQ(v["ready"], "False");
  ASSERT_EQ(v["conditions"].size(), 1u);
  EXPECT_EQ(v["conditions"][0]["reason"], "InvalidKey");
  EXPECT_EQ(v["conditions"][0]["message"], "spec.issuers[0].keys[0]: not a key");
  EXPECT_EQ(v["conditions"][0]["lastTransitionTime"], "2026-12-05T08:00:00Z");
}

TEST(ConsolePolicyHealthTest, NoStatusYetIsReadyNullNotAnError) {
  json v = PolicyHealthView({{"metadata", {{"name", "fresh"}}}});
  EXPECT_EQ(v["name"], "fresh");
  EXPECT_TRUE(v["ready"].is_null());
  EXPECT_TRUE(v["conditions"].empty());
  // Garbage where the status should be is shown as no status, not thrown on.
  EXPECT_TRUE(PolicyHealthView({{"metadata", 7}, {"status", {{"conditions", "x"}}}})["conditions"].empty());
  EXPECT_TRUE(PolicyHealthView(json::array())["ready"].is_null());
  json odd = PolicyHealthView(Policy("p", json::array({1, {{"status", "True"}}, {{"type", 5}}, {{"type", "Ready"}, {"status", 1}}})));
  ASSERT_EQ(odd["conditions"].size(), 1u);  // only the one with a type
  EXPECT_FALSE(odd["conditions"][0].contains("status"));
  EXPECT_TRUE(odd["ready"].is_null());
}

TEST(ConsolePolicyHealthTest, WhatAStatusWriterPutsThereIsBounded) {
  json many = json::array();
  for (int i = 0; i < 40; ++i) many.push_back({{"type", "T" + std::to_string(i)}, {"status", "True"}});
  json v = PolicyHealthView(Policy("p", many));
  EXPECT_EQ(v["conditions"].size(), kMaxConditions);
  EXPECT_EQ(v["conditionsTruncated"], true);
  // Long strings are cut, never inside a UTF-8 sequence.
  std::string long_message(kMaxConditionMessageBytes - 1, 'a');
  long_message += "é and more";
  json c = PolicyHealthView(Policy("p", json::array({{{"type", "Ready"},
                                                       {"status", "True"},
                                                       {"reason", std::string(1000, 'R')},
                                                       {"message", long_message}}})))["conditions"][0];
  EXPECT_LE(c["reason"].get<std::string>().size(), kMaxConditionWordBytes + 3);
  std::string m = c["message"].get<std::string>();
  EXPECT_EQ(m, std::string(kMaxConditionMessageBytes - 1, 'a') + "…");
  EXPECT_NO_THROW(json(m).dump());
}

TEST(ConsolePolicyHealthTest, ListsBothKindsAsTheUserSortedByName) {
  ScriptedLists user;
  kube::ListResult eps;
  eps.items = {Policy("zeta", json::array({{{"type", "Ready"}, {"status", "True"}}})),
               Policy("alpha", json::array({{{"type", "Ready"}, {"status", "False"}}}))};
  user.answers.emplace(kPoliciesPath, eps);
  user.answers.emplace(kAuthorityPoliciesPath, StatusOr<kube::ListResult>(NotFound("the server could not find the requested resource")));
  json h = ClusterPolicyHealth(user, "alice");
  EXPECT_EQ(h["available"], true);
  ASSERT_EQ(h["kinds"].size(), 2u);
  EXPECT_EQ(h["kinds"][0]["kind"], "ExecutionPolicy");
  ASSERT_EQ(h["kinds"][0]["policies"].size(), 2u);
  EXPECT_EQ(h["kinds"][0]["policies"][0]["name"], "alpha");
  EXPECT_EQ(h["kinds"][0]["policies"][0]["ready"], "False");
  EXPECT_EQ(h["kinds"][0]["truncated"], false);
  EXPECT_EQ(h["kinds"][1]["kind"], "AuthorityPolicy");
  EXPECT_EQ(h["kinds"][1]["notInstalled"], true);
  EXPECT_FALSE(h["kinds"][1].contains("error"));
}

TEST(ConsolePolicyHealthTest, ARefusalIsForbiddenAndNamesTheUser) {
  ScriptedLists user;
  user.answers.emplace(kPoliciesPath,
                       StatusOr<kube::ListResult>(PermissionDenied("executionpolicies.execgov.io is forbidden")));
  user.answers.emplace(kAuthorityPoliciesPath, StatusOr<kube::ListResult>(Unavailable("connection refused")));
  json h = ClusterPolicyHealth(user, "system:serviceaccount:t:auditor");
  EXPECT_EQ(h["kinds"][0]["forbidden"], true);
  EXPECT_NE(h["kinds"][0]["error"].get<std::string>().find("refused system:serviceaccount:t:auditor"), std::string::npos);
  EXPECT_FALSE(h["kinds"][0].contains("policies"));
  EXPECT_FALSE(h["kinds"][1].contains("forbidden"));
  EXPECT_NE(h["kinds"][1]["error"].get<std::string>().find("listing AuthorityPolicies as system:serviceaccount:t:auditor: connection refused"), std::string::npos);
}

TEST(ConsolePolicyHealthTest, AtMostKMaxHealthPoliciesAreSent) {
  ScriptedLists user;
  kube::ListResult eps;
  for (size_t i = 0; i < kMaxHealthPolicies + 5; ++i) eps.items.push_back(Policy("p" + std::to_string(i), json::array()));
  user.answers.emplace(kPoliciesPath, eps);
  json k = ListPolicyHealth(user, "alice", "ExecutionPolicy", kPoliciesPath);
  EXPECT_EQ(k["policies"].size(), kMaxHealthPolicies);
  EXPECT_EQ(k["truncated"], true);
}

constexpr char kReportsPath[] = "/apis/wgpolicyk8s.io/v1alpha2/policyreports";

json Report(const std::string& ns, json results) {
  return {{"metadata", {{"name", "execgov-runtime"}, {"namespace", ns}}},
          {"summary", {{"fail", 1}, {"warn", 1}, {"pass", 0}}},
          {"results", std::move(results)}};
}

TEST(ConsolePolicyHealthTest, RuntimeReportsShowWhatFailsOrWarnsByNamespace) {
  ScriptedLists user;
  kube::ListResult reports;
  reports.items = {
      Report("team-b", json::array({{{"result", "fail"},
                                     {"rule", "Unadmitted"},
                                     {"policy", "team-b"},
                                     {"message", "no admission record"},
                                     {"timestamp", {{"seconds", 1790000000}, {"nanos", 0}}},
                                     {"properties", {{"action", "Report"}}},
                                     {"resources", json::array({{{"kind", "Pod"}, {"namespace", "team-b"}, {"name", "p"}}})}},
                                    {{"result", "pass"}, {"rule", "Fine"}},
                                    {{"result", "warn"}, {"rule", "BreakGlass"}, {"resources", "not an array"}},
                                    7})),
      Report("team-a", json::array()),
      json::array()};  // not an object: skipped
  user.answers.emplace(kReportsPath, reports);
  json r = RuntimeReports(user, "alice");
  EXPECT_EQ(user.last_selector, "app.kubernetes.io/managed-by=execgov");  // execgov's own reports only
  ASSERT_EQ(r["reports"].size(), 2u);
  EXPECT_EQ(r["reports"][0]["namespace"], "team-a");
  const json& b = r["reports"][1];
  EXPECT_EQ(b["fail"], 1);
  ASSERT_EQ(b["results"].size(), 2u);  // the pass and the garbage are not shown
  EXPECT_EQ(b["results"][0]["rule"], "Unadmitted");
  EXPECT_EQ(b["results"][0]["kind"], "Pod");
  EXPECT_EQ(b["results"][0]["name"], "p");
  EXPECT_EQ(b["results"][0]["action"], "Report");
  EXPECT_EQ(b["results"][0]["timestamp"], 1790000000);
  EXPECT_EQ(b["results"][1]["result"], "warn");
  EXPECT_FALSE(b["results"][1].contains("kind"));
  EXPECT_EQ(r["truncated"], false);
}

TEST(ConsolePolicyHealthTest, RuntimeReportsAreBoundedAndARefusalIsSaid) {
  ScriptedLists user;
  kube::ListResult reports;
  json many = json::array();
  for (size_t i = 0; i < kMaxRuntimeResults + 1; ++i) many.push_back({{"result", "fail"}, {"rule", "Drift"}});
  reports.items.push_back(Report("a", many));
  user.answers.emplace(kReportsPath, reports);
  json r = RuntimeReports(user, "alice");
  EXPECT_EQ(r["reports"][0]["results"].size(), kMaxRuntimeResults);
  EXPECT_EQ(r["truncated"], true);

  ScriptedLists refused;
  refused.answers.emplace(kReportsPath, StatusOr<kube::ListResult>(PermissionDenied("policyreports is forbidden")));
  json f = RuntimeReports(refused, "bob");
  EXPECT_EQ(f["forbidden"], true);
  EXPECT_NE(f["error"].get<std::string>().find("refused bob"), std::string::npos);
  ScriptedLists missing;
  missing.answers.emplace(kReportsPath, StatusOr<kube::ListResult>(NotFound("no such resource")));
  EXPECT_EQ(RuntimeReports(missing, "bob")["notInstalled"], true);
}

TEST(ConsolePolicyHealthTest, StandaloneIsUnavailableNotAnError) {
  json h = StandalonePolicyHealth();
  EXPECT_EQ(h["available"], false);
  EXPECT_FALSE(h.contains("error"));
  EXPECT_FALSE(h["reason"].get<std::string>().empty());
}

}  // namespace
}  // namespace execgov::console
