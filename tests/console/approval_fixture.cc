// The approval part of the console's browser-test ledger (make_ledger.sh):
// what the webhook and the authority write about one ExecutionRequest that
// an AuthorityPolicy rule holds for a person's approval, written by their
// own code, with no cluster: the API server's part (the request as stored,
// the ExecutionApprovals it would pass to the webhook) is played in memory.
//
//   1. Three ExecutionApprovals judged by the webhook's handler
//      (webhook::GuardApproval, every judgement recorded, as `execgov
//      webhook` does): carol's, made when the request's spec was another
//      (an older digest: admitted, and void when the authority counts);
//      the initiator approving their own request (refused); alice's.
//   2. The authority (authority::AuthorityController over an in-memory API,
//      its index read from the ledger as `execgov authority` reads it)
//      counts them, records its grant and attaches the signed artifact.
//
// Usage: approval_fixture LEDGER_PATH REQUEST.json OLD_REQUEST.json
//          AUTHORITY_POLICY.json EXECUTION_POLICY.json AUTHORITY_KEY KID
//          ISSUER AUDIENCE OUT.json
// REQUEST.json is the waiting request as the API server holds it (uid,
// creationTimestamp, status.phase AwaitingAuthorization; the webhook already
// admitted it into the ledger); OUT.json receives it with the artifact.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "api/object.h"
#include "authority/approval.h"
#include "authority/authority_controller.h"
#include "core/clock.h"
#include "core/file.h"
#include "crypto/keys.h"
#include "ledger/ledger.h"
#include "runtime/informer.h"
#include "support/memory_kube_client.h"
#include "webhook/approval_guard.h"

namespace {

using namespace execgov;
using nlohmann::json;

int Fail(const std::string& what, const Status& st) {
  std::cerr << "approval_fixture: " << what << ": " << st.message() << "\n";
  return 1;
}

StatusOr<json> ReadJson(const std::string& path) {
  EXECGOV_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return InvalidArgument(path + " is not a JSON object");
  return j;
}

// The CREATE the API server sends the webhook for `approval` by `user`.
webhook::AdmissionRequest ApprovalCreate(json approval, const std::string& name, const std::string& uid,
                                         const std::string& user, std::vector<std::string> groups) {
  approval["metadata"].erase("generateName");
  approval["metadata"]["name"] = name;
  approval["metadata"]["uid"] = uid;
  webhook::AdmissionRequest req;
  req.uid = "review-" + uid;
  req.resource = {std::string(api::kGroup), std::string(api::kVersion), authority::kApprovalResource};
  req.kind = {std::string(api::kGroup), std::string(api::kVersion), authority::kApprovalKind};
  req.ns = api::NamespaceOf(approval);
  req.name = name;
  req.operation = policy::Operation::kCreate;
  req.user = user;
  req.groups = std::move(groups);
  req.object = std::move(approval);
  return req;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 11) {
    std::cerr << "usage: approval_fixture LEDGER_PATH REQUEST.json OLD_REQUEST.json AUTHORITY_POLICY.json "
                 "EXECUTION_POLICY.json AUTHORITY_KEY KID ISSUER AUDIENCE OUT.json\n";
    return 2;
  }
  const std::string ledger_url = std::string("file:") + argv[1];
  auto request = ReadJson(argv[2]), old_request = ReadJson(argv[3]), apol = ReadJson(argv[4]),
       epol = ReadJson(argv[5]);
  for (const auto* j : {&request, &old_request, &apol, &epol}) {
    if (!j->ok()) return Fail("reading the input", j->status());
  }
  auto compiled = authority::CompileAuthorityPolicy(*apol);
  if (!compiled.ok()) return Fail("the AuthorityPolicy", compiled.status());
  const Clock& clock = SystemClock::Get();

  // 1. The webhook judges and records each approval.
  {
    auto ledger = ledger::OpenLedger(ledger_url, {});
    if (!ledger.ok()) return Fail("opening the ledger as the webhook", ledger.status());
    struct Made {
      const json* as_seen;  // the request as the approver read it
      const char* name;
      const char* uid;
      const char* approver;
      std::vector<std::string> groups;
      const char* reason;
      bool want_allowed;
    };
    const std::vector<Made> approvals = {
        {&*old_request, "rotate-keys-3-approve-c4rol", "eappr-uid-carol", "carol", {"ops-approvers"},
         "looked fine before the image changed", true},
        {&*request, "rotate-keys-3-approve-s3lf", "eappr-uid-self", "agent:rotator", {"ops-approvers"},
         "approving my own request", false},
        {&*request, "rotate-keys-3-approve-al1ce", "eappr-uid-alice", "alice", {"ops-approvers", "staff"},
         "checked against change OPS-1234", true},
    };
    for (const Made& m : approvals) {
      auto object = authority::NewApproval(*m.as_seen, /*approve=*/true, m.approver, m.reason);
      if (!object.ok()) return Fail("building the approval", object.status());
      const json seen = *m.as_seen;
      webhook::ApprovalContextProvider context = [&](const std::string&, const std::string&) {
        return StatusOr<webhook::ApprovalContext>(webhook::ApprovalContext{seen, {*compiled}});
      };
      auto resp = webhook::GuardApproval(ApprovalCreate(*object, m.name, m.uid, m.approver, m.groups), context,
                                         ledger->get(), clock, nullptr);
      std::cout << "approval " << m.name << ": " << (resp.allowed ? "allowed" : "refused: " + resp.message) << "\n";
      if (resp.allowed != m.want_allowed) {
        std::cerr << "approval_fixture: the webhook's judgement of " << m.name << " is not the one this fixture "
                  << "shows\n";
        return 1;
      }
    }
    if (Status st = (*ledger)->Close(); !st.ok()) return Fail("closing the ledger", st);
  }

  // 2. The authority counts them and grants.
  testing::MemoryClient client;
  client.Put("executionrequests", *request);
  client.Put("authoritypolicies", *apol);
  client.Put("executionpolicies", *epol);
  authority::GrantIndex index;
  ledger::LedgerOptions options;
  options.observe = [&](uint64_t, std::string_view record) { index.Observe(record); };
  auto ledger = ledger::OpenLedger(ledger_url, options);
  if (!ledger.ok()) return Fail("opening the ledger as the authority", ledger.status());
  if (Status st = (*ledger)->CatchUp(); !st.ok()) return Fail("reading the ledger", st);
  auto pem = ReadFile(argv[6]);
  if (!pem.ok()) return Fail("reading the authority's key", pem.status());
  auto key = crypto::PrivateKey::FromPem(*pem);
  if (!key.ok()) return Fail("the authority's key", key.status());
  authority::Signer signer{std::move(key).value(), argv[7], argv[8], argv[9]};
  std::vector<std::unique_ptr<runtime::Informer>> informers;
  for (const char* r : {"executionrequests", "authoritypolicies", "executionpolicies"}) {
    informers.push_back(std::make_unique<runtime::Informer>(&client, kube::ResourcePath("execgov.io/v1alpha1", r)));
    informers.back()->Start();
    if (!informers.back()->WaitForSync(std::chrono::seconds(10))) return Fail(r, Unavailable("the informer did not sync"));
  }
  authority::AuthorityControllerDeps deps;
  deps.client = &client;
  deps.requests = informers[0].get();
  deps.authority_policies = informers[1].get();
  deps.execution_policies = informers[2].get();
  deps.ledger = ledger->get();
  deps.index = &index;
  deps.signer = &signer;
  deps.identity = "execgov-authority";
  authority::AuthorityController controller(std::move(deps));
  auto done = controller.Reconcile(api::NamespaceOf(*request) + "/" + api::NameOf(*request));
  for (auto& i : informers) i->Stop();
  if (!done.ok()) return Fail("the authority's reconcile", done.status());
  if (Status st = (*ledger)->Close(); !st.ok()) return Fail("closing the ledger", st);
  json granted = client.Object("executionrequests", api::NamespaceOf(*request), api::NameOf(*request));
  if (!api::ArtifactOf(granted)) {
    std::cerr << "approval_fixture: the authority attached no artifact: "
              << granted.value("status", json::object()).dump() << "\n";
    return 1;
  }
  std::ofstream(argv[10]) << granted.dump() << "\n";
  std::cout << "granted " << api::StringAt(granted, {"status", "authorization", "jti"}) << "\n";
  return 0;
}
