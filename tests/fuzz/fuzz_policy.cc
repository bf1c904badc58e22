#include "fuzz/fuzz_policy.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

namespace execgov::fuzz {
namespace {

using Json = nlohmann::json;

const policy::PolicySet& CapturedPolicies() {
  static const policy::PolicySet* set = [] {
    const std::string path = std::string(EXECGOV_SOURCE_DIR) + "/tests/fuzz/corpus/policy_yaml/captured.json";
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    Json p = Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    // The key the captures are signed with now (hack/capture-reviews.sh
    // makes a new one each time), whatever the seed holds.
    std::ifstream pub(std::string(EXECGOV_SOURCE_DIR) + "/tests/unit/webhook/testdata/apiserver/authority.pub");
    std::stringstream pem;
    pem << pub.rdbuf();
    if (p.is_object()) p["spec"]["issuers"][0]["keys"][0]["publicKey"] = pem.str();
    auto compiled = policy::CompilePolicy(p);
    if (!compiled.ok()) {
      std::fprintf(stderr, "fuzz: the captured policy (%s) does not compile: %s\n", path.c_str(),
                   compiled.status().ToString().c_str());
      std::abort();
    }
    auto* s = new policy::PolicySet;
    s->ready = true;
    s->policies.push_back(*compiled);
    return s;
  }();
  return *set;
}

// The Job of job-create.json consumed every jti.
class ConsumedByCapturedJob : public policy::ReplayView {
 public:
  std::optional<policy::Consumption> Find(const std::string&, const std::string& inheritor_uid) const override {
    policy::Consumption c{"Job", "agents", "rotate-payments", kJobUid, false};
    c.inherited = !inheritor_uid.empty() && inheritor_uid != kJobUid;
    return c;
  }
  static constexpr const char* kJobUid = "59eb064f-dfaa-4725-a8e3-3c468a692b80";  // job-create.json
};

class EmptyLedger : public policy::LineageView {
 public:
  bool HasRecord(const std::string&) const override { return false; }
};

}  // namespace

policy::Decision DecideCaptured(const policy::AdmissionAttributes& attrs) {
  static const ConsumedByCapturedJob replay;
  static const EmptyLedger lineage;
  policy::DecisionInputs in;
  in.policies = &CapturedPolicies();
  in.now = kCapturedNow;
  in.replay = &replay;
  in.lineage = &lineage;
  return policy::Decide(attrs, in);
}

}  // namespace execgov::fuzz
