// ExecutionPolicy files as `execgov serve --policy` reads them: YAML or JSON
// documents (api::ParseManifests), each compiled (policy::CompilePolicy)
// without a publicKeyRef resolver, as in file mode.
#include <cstdint>
#include <string_view>

#include "api/manifest.h"
#include "policy/policy.h"

using namespace execgov;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto docs = api::ParseManifests(text, "fuzz.yaml");
  if (!docs.ok()) return 0;
  for (const auto& doc : *docs) {
    auto compiled = policy::CompilePolicy(doc);
    if (compiled.ok()) (void)(*compiled)->Summary();
  }
  return 0;
}
