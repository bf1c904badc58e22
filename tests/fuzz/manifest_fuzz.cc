// The command line's manifest reader (api::ParseManifests: `execgov sign`,
// `digest`, `check`) and the execution-scope digest of each document, read as
// its own kind and as each governed kind (the webhook passes the request's
// kind, which an object need not agree with). What `execgov sign` writes back
// (api::EmitYaml) must read as the same documents, or a signed manifest would
// be hashed differently from the one that was signed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "api/execution_scope.h"
#include "api/manifest.h"

using namespace execgov;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto docs = api::ParseManifests(text, "fuzz.yaml");
  if (!docs.ok()) return 0;
  for (const auto& doc : *docs) {
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
