// Which webhook replicas the certificate controller asks for their serving
// certificate: the ready endpoints of the Service's https port.
#include <gtest/gtest.h>

#include "controllers/webhook_certificates.h"

namespace execgov::controllers {
namespace {

using Json = nlohmann::json;
using Targets = std::vector<std::pair<std::string, int>>;

TEST(ReadyEndpointsTest, TakesTheNamedPortOfReadyEndpoints) {
  std::vector<Json> slices = {Json::parse(R"({
    "ports": [{"name": "metrics", "port": 8080}, {"name": "https", "port": 8443}],
    "endpoints": [
      {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
      {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
      {"addresses": ["10.0.0.3"]},
      {"addresses": []}
    ]})"),
                              Json::parse(R"({"ports": [{"name": "https", "port": 9443}],
                                              "endpoints": [{"addresses": ["10.0.1.1"], "conditions": {}}]})")};
  EXPECT_EQ(ReadyEndpoints(slices, "https"), (Targets{{"10.0.0.1", 8443}, {"10.0.0.3", 8443}, {"10.0.1.1", 9443}}));
  EXPECT_EQ(ReadyEndpoints(slices, "metrics"), (Targets{{"10.0.0.1", 8080}, {"10.0.0.3", 8080}}));
}

TEST(ReadyEndpointsTest, NothingWithoutThePortOrEndpoints) {
  EXPECT_TRUE(ReadyEndpoints({}, "https").empty());
  EXPECT_TRUE(ReadyEndpoints({Json::parse(R"({"ports": [{"name": "other", "port": 1}],
                                              "endpoints": [{"addresses": ["10.0.0.1"]}]})")},
                             "https")
                  .empty());
  EXPECT_TRUE(ReadyEndpoints({Json::parse(R"({"ports": [{"name": "https", "port": 8443}]})")}, "https").empty());
  EXPECT_TRUE(ReadyEndpoints({Json::parse(R"({"ports": [{"name": "https", "port": "8443"}],
                                              "endpoints": [{"addresses": ["10.0.0.1"]}]})")},
                             "https")
                  .empty());
}

TEST(ServiceHostsTest, EveryNameTheServiceHasInTheCluster) {
  EXPECT_EQ(ServiceHosts("execgov-webhook", "execgov-system"),
            (std::vector<std::string>{"execgov-webhook", "execgov-webhook.execgov-system",
                                      "execgov-webhook.execgov-system.svc",
                                      "execgov-webhook.execgov-system.svc.cluster.local"}));
}

}  // namespace
}  // namespace execgov::controllers
