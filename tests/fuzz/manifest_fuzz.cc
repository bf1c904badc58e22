// The command line's manifest reader (api::ParseManifests: `execgov sign`,
// `digest`, `check`) and the execution-scope digest of each document, read as
// its own kind and as each governed kind (the webhook passes the request's
// kind, which an object need not agree with). What `execgov sign` writes back
// (api::EmitYaml) must read as the same documents, or a signed manifest would
// be hashed differently from the one that was signed.
//
// The same input, and each document as JSON, is also the body of a request
// to execgov authority's HTTPS endpoint (authority/http_request.h): its
// parser must never crash, and what it accepts must be a Pod or Job whose
// digest is the one the webhook computes; held for approvals as a relayed
// ExecutionRequest (authority/relay.h), it must rebuild to that digest. The
// input is also the path of a poll of such a request.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "api/execution_scope.h"
#include "api/manifest.h"
#include "authority/http_request.h"
#include "authority/relay.h"

using namespace execgov;

namespace {

void Authorize(std::string_view body) {
  authority::CallError error;
  auto call = authority::ParseAuthorizeCall("POST", authority::kAuthorizePath, "application/json", "Bearer a.b-c_d",
                                            body, &error);
  if (!call) {
    if (error.status < 400 || error.status > 415 || error.message.empty()) std::abort();
    return;
  }
  if (call->kind == api::GovernedKind::kExecutionRequest || call->ns.empty() || call->name.empty()) std::abort();
  auto digest = api::ExecutionScopeDigest(call->kind, call->manifest);
  if (!digest.ok() || *digest != call->digest || call->token != "a.b-c_d") std::abort();
  if (auto relayed = authority::NewRelayedRequest(call->kind, call->manifest, "fuzz"); relayed.ok()) {
    auto rebuilt = authority::RelayedManifest(*relayed);
    if (!rebuilt.ok()) std::abort();
    auto again = api::ExecutionScopeDigest(call->kind, *rebuilt);
    if (!again.ok() || *again != call->digest) std::abort();
  }
}

void Poll(std::string_view text) {
  authority::CallError error;
  auto poll = authority::ParsePollCall("GET", std::string(authority::kPollPrefix) + std::string(text.substr(0, 512)),
                                       "Bearer a.b", &error);
  if (poll ? (poll->ns.empty() || poll->name.empty() || poll->token != "a.b") : error.message.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Authorize(text);
  Poll(text);
  auto docs = api::ParseManifests(text, "fuzz.yaml");
  if (!docs.ok()) return 0;
  for (const auto& doc : *docs) {
    Authorize(doc.dump());
    (void)api::ExecutionScopeDigest(doc);
    for (auto kind : {api::GovernedKind::kPod, api::GovernedKind::kJob, api::GovernedKind::kExecutionRequest}) {
      (void)api::ExecutionScopeDigest(kind, doc);
    }
  }
  std::string emitted = api::EmitYaml(*docs);
  auto again = api::ParseManifests(emitted, "emitted.yaml");
  if (!again.ok() || *again != *docs) {
    std::fprintf(stderr, "EmitYaml's output does not read back as the same documents (%s):\n%s\n",
                 again.ok() ? "different" : again.status().ToString().c_str(), emitted.c_str());
    std::abort();
  }
  return 0;
}
