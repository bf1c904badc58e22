// The other guard on the door (issue 21): the ValidatingWebhookConfiguration
// itself. Whoever may edit or delete it can switch execution governance off
// for everyone, and the API server records no decision of execgov's while it
// is gone. The operator's leader reads it every period (one GET) and, when it
// is deleted or no longer sends what docs/design.md §8 says it must
// (validate.execgov.io with failurePolicy Fail, CREATE and UPDATE of Pods,
// Jobs and ExecutionRequests, governed namespaces), appends a `guard` record
// (guard "webhook-configuration", what changed), a Warning Event, and sets
// execgov_webhook_configuration_intact to 0; when it is whole again, another
// record and 1. It alerts rather than restores: the break-glass procedures
// (docs/operations.md) edit or delete it on purpose, and Helm owns it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kube/client.h"
#include "kube/events.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"

namespace execgov::controllers {

// What is wrong with the configuration (pure); empty when intact. Null: deleted.
std::vector<std::string> WebhookConfigurationProblems(const nlohmann::json* configuration);

class WebhookConfigurationWatch {
 public:
  WebhookConfigurationWatch(kube::Client* client, std::string name, ledger::Ledger* ledger,
                            kube::EventRecorder* events, metrics::Metrics* metrics, std::string operator_identity);
  ~WebhookConfigurationWatch();
  // One look (as the leader). An error reading it (other than NotFound) is
  // returned and changes nothing.
  Status Check();

 private:
  kube::Client* client_;
  std::string name_;
  ledger::Ledger* ledger_;
  kube::EventRecorder* events_;
  std::string operator_identity_;
  struct Gauge;
  std::unique_ptr<Gauge> gauge_;
  bool known_ = false;  // a first look was recorded (or found intact)
  std::vector<std::string> last_;
};

}  // namespace execgov::controllers
