#include "controllers/webhook_config_watch.h"

#include <prometheus/gauge.h>

#include <set>
#include <tuple>

#include "core/log.h"

namespace execgov::controllers {

using nlohmann::json;

struct WebhookConfigurationWatch::Gauge {
  prometheus::Gauge& intact;
};

namespace {

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> StringsAt(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

std::vector<std::string> WebhookConfigurationProblems(const json* vwc) {
  if (!vwc) return {"the ValidatingWebhookConfiguration was deleted: nothing governed is checked or recorded"};
  const json* hook = nullptr;
  if (auto hooks = vwc->find("webhooks"); hooks != vwc->end() && hooks->is_array()) {
    for (const auto& h : *hooks) {
      if (h.is_object() && Str(h, "name") == "validate.execgov.io") hook = &h;
    }
  }
  if (!hook) return {"webhook validate.execgov.io was removed from it"};
  std::vector<std::string> problems;
  const std::string failure = Str(*hook, "failurePolicy");
  if (!failure.empty() && failure != "Fail") {
    problems.push_back("failurePolicy is " + failure + ", not Fail: the API server admits whatever it cannot send");
  }
  // Every (group, resource, operation) the contract requires, from any rule.
  std::set<std::tuple<std::string, std::string, std::string>> covered;
  if (auto rules = hook->find("rules"); rules != hook->end() && rules->is_array()) {
    for (const auto& r : *rules) {
      if (!r.is_object()) continue;
      for (const auto& g : StringsAt(r, "apiGroups")) {
        for (const auto& res : StringsAt(r, "resources")) {
          for (const auto& op : StringsAt(r, "operations")) covered.emplace(g, res, op);
        }
      }
    }
  }
  for (const auto& [group, resource] : std::vector<std::pair<std::string, std::string>>{
           {"", "pods"}, {"batch", "jobs"}, {"execgov.io", "executionrequests"}}) {
    for (const char* op : {"CREATE", "UPDATE"}) {
      bool ok = false;
      for (const auto& g : {group, std::string("*")}) {
        for (const auto& res : {resource, std::string("*")}) {
          for (const auto& o : {std::string(op), std::string("*")}) ok = ok || covered.count({g, res, o});
        }
      }
      if (!ok) problems.push_back("its rules no longer send " + std::string(op) + " of " + resource);
    }
  }
  // The governed namespaces: a selector that no longer asks for the label
  // (or asks for more) is an edit to look at, whatever it does.
  const json selector = hook->value("namespaceSelector", json::object());
  if (selector.value("matchLabels", json::object()).value("execgov.io/governed", "") != "true") {
    problems.push_back("its namespaceSelector no longer selects namespaces labelled execgov.io/governed=true");
  }
  return problems;
}

WebhookConfigurationWatch::WebhookConfigurationWatch(kube::Client* client, std::string name, ledger::Ledger* ledger,
                                                     kube::EventRecorder* events, metrics::Metrics* metrics,
                                                     std::string operator_identity)
    : client_(client),
      name_(std::move(name)),
      ledger_(ledger),
      events_(events),
      operator_identity_(std::move(operator_identity)) {
  if (metrics) {
    auto& family = prometheus::BuildGauge()
                       .Name("execgov_webhook_configuration_intact")
                       .Help("1 while the ValidatingWebhookConfiguration sends what execgov must judge, 0 once "
                             "it was deleted or edited away from it")
                       .Register(metrics->registry());
    gauge_ = std::make_unique<Gauge>(Gauge{family.Add({{"name", name_}})});
  }
}

WebhookConfigurationWatch::~WebhookConfigurationWatch() = default;

Status WebhookConfigurationWatch::Check() {
  auto got = client_->Get("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/" + name_);
  if (!got.ok() && got.status().code() != StatusCode::kNotFound) return got.status();
  std::vector<std::string> problems = WebhookConfigurationProblems(got.ok() ? &*got : nullptr);
  if (gauge_) gauge_->intact.Set(problems.empty() ? 1 : 0);
  // Recorded on each change, and at a leader's first look only when wrong.
  if (known_ && problems == last_) return Status::Ok();
  if (!known_ && problems.empty()) {
    known_ = true;
    return Status::Ok();
  }
  std::string message;
  for (const auto& p : problems) message += (message.empty() ? "" : "; ") + p;
  if (problems.empty()) message = "the ValidatingWebhookConfiguration sends what execgov must judge again";
  json entry = {{"type", "guard"},
                {"guard", "webhook-configuration"},
                {"decision", problems.empty() ? "restored" : "changed"},
                {"message", message},
                {"object",
                 {{"kind", "ValidatingWebhookConfiguration"},
                  {"name", name_},
                  {"uid", got.ok() ? Str(got->value("metadata", json::object()), "uid") : std::string()}}}};
  if (!operator_identity_.empty()) entry["operator"] = operator_identity_;
  auto appended = ledger_ ? ledger_->Append(entry) : StatusOr<ledger::Appended>(ledger::Appended{});
  if (!appended.ok()) return appended.status().WithContext("recording the webhook configuration's change");
  known_ = true;
  last_ = problems;
  if (problems.empty()) {
    log::Info("webhook configuration: intact again", json{{"name", name_}});
  } else {
    log::Error("webhook configuration: governance is bypassed", json{{"name", name_}, {"problems", message}});
    if (events_ && got.ok()) events_->Record(*got, kube::EventType::kWarning, "GovernanceBypassed", message);
  }
  return Status::Ok();
}

}  // namespace execgov::controllers
