// The webhook configuration guard: what counts as a configuration that no
// longer sends what execgov must judge, and that the operator records each
// change once (a deletion, then the return) against a scripted API.
#include <gtest/gtest.h>

#include "controllers/webhook_config_watch.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "support/fake_kube_client.h"
#include "support/subprocess.h"

namespace execgov::controllers {
namespace {

using nlohmann::json;

json Intact() {
  return {{"apiVersion", "admissionregistration.k8s.io/v1"},
          {"kind", "ValidatingWebhookConfiguration"},
          {"metadata", {{"name", "execgov"}, {"uid", "uid-vwc"}}},
          {"webhooks",
           {{{"name", "validate.execgov.io"},
             {"failurePolicy", "Fail"},
             {"namespaceSelector", {{"matchLabels", {{"execgov.io/governed", "true"}}}}},
             {"rules",
              {{{"apiGroups", {""}}, {"resources", {"pods", "pods/ephemeralcontainers"}}, {"operations", {"CREATE", "UPDATE"}}},
               {{"apiGroups", {"batch"}}, {"resources", {"jobs"}}, {"operations", {"CREATE", "UPDATE"}}},
               {{"apiGroups", {"execgov.io"}}, {"resources", {"executionrequests"}}, {"operations", {"CREATE", "UPDATE"}}}}}}}}};
}

TEST(WebhookConfigurationProblemsTest, IntactDeletedAndEachWayOfEditingItAway) {
  json vwc = Intact();
  EXPECT_TRUE(WebhookConfigurationProblems(&vwc).empty());
  EXPECT_EQ(WebhookConfigurationProblems(nullptr).size(), 1u);
  json ignore = Intact();
  ignore["webhooks"][0]["failurePolicy"] = "Ignore";
  EXPECT_EQ(WebhookConfigurationProblems(&ignore).size(), 1u);
  json no_jobs = Intact();
  no_jobs["webhooks"][0]["rules"].erase(1);
  EXPECT_EQ(WebhookConfigurationProblems(&no_jobs).size(), 2u);  // CREATE and UPDATE of jobs
  json create_only = Intact();
  create_only["webhooks"][0]["rules"][0]["operations"] = {"CREATE"};
  EXPECT_EQ(WebhookConfigurationProblems(&create_only).size(), 1u);
  json wildcard = Intact();
  wildcard["webhooks"][0]["rules"] = {{{"apiGroups", {"*"}}, {"resources", {"*"}}, {"operations", {"*"}}}};
  EXPECT_TRUE(WebhookConfigurationProblems(&wildcard).empty());
  json selector = Intact();
  selector["webhooks"][0]["namespaceSelector"] = json::object();
  EXPECT_EQ(WebhookConfigurationProblems(&selector).size(), 1u);
  json renamed = Intact();
  renamed["webhooks"][0]["name"] = "other.example.com";
  EXPECT_EQ(WebhookConfigurationProblems(&renamed).size(), 1u);
}

class ScriptedVwc final : public testing::ListWatchOnlyClient {
 public:
  StatusOr<json> Get(const std::string&) override {
    if (!present) return NotFound("validatingwebhookconfigurations \"execgov\" not found");
    return Intact();
  }
  StatusOr<kube::ListResult> List(const std::string&, const kube::ListOptions&) override {
    return Internal("not listed");
  }
  Status Watch(const std::string&, const kube::WatchOptions&,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>&) override {
    return Internal("not watched");
  }
  bool present = true;
};

TEST(WebhookConfigurationWatchTest, RecordsTheDeletionAndTheReturnOnceEach) {
  testing::TempDir dir;
  const std::string url = "file:" + dir.File("ledger.jsonl");
  auto ledger = ledger::OpenLedger(url, {});
  ASSERT_TRUE(ledger.ok());
  ScriptedVwc client;
  metrics::Metrics metrics;
  WebhookConfigurationWatch watch(&client, "execgov", ledger->get(), nullptr, &metrics, "operator-0");
  auto guards = [&] {
    std::vector<json> out;
    auto reader = ledger::OpenBackend(url, {.read_only = true});
    EXPECT_TRUE((*reader)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view b) {
      json r = json::parse(b);
      if (r["type"] == "guard") out.push_back(r);
      return Status::Ok();
    }).ok());
    return out;
  };
  ASSERT_TRUE(watch.Check().ok());
  EXPECT_TRUE(guards().empty());  // intact at the first look: nothing to say
  EXPECT_NE(metrics.Serialize().find("execgov_webhook_configuration_intact{name=\"execgov\"} 1"), std::string::npos);
  client.present = false;
  ASSERT_TRUE(watch.Check().ok());
  ASSERT_TRUE(watch.Check().ok());
  auto g = guards();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0]["guard"], "webhook-configuration");
  EXPECT_EQ(g[0]["decision"], "changed");
  EXPECT_NE(g[0]["message"].get<std::string>().find("deleted"), std::string::npos);
  EXPECT_NE(metrics.Serialize().find("execgov_webhook_configuration_intact{name=\"execgov\"} 0"), std::string::npos);
  client.present = true;
  ASSERT_TRUE(watch.Check().ok());
  g = guards();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[1]["decision"], "restored");
  EXPECT_EQ(g[1]["object"]["uid"], "uid-vwc");
}

}  // namespace
}  // namespace execgov::controllers
