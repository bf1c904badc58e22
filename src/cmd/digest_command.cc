// execgov digest: the execution-scope digest (docs/design.md §3.2) of each document.
#include <iostream>

#include "api/execution_scope.h"
#include "cmd/cli.h"

namespace execgov::cmd {
namespace {

struct DigestOptions {
  std::string file;
  bool explain = false;
};

int RunDigest(const DigestOptions& o) {
  auto manifests = ReadManifests(o.file);
  if (!manifests.ok()) return UsageError(manifests.status().message());
  for (size_t i = 0; i < manifests->docs.size(); ++i) {
    auto digest = api::ExecutionScopeDigest(manifests->docs[i]);
    if (!digest.ok()) return UsageError("document " + std::to_string(i + 1) + ": " + digest.status().message());
    std::cout << *digest << "\n";
    if (o.explain) {
      auto kind = api::ParseGovernedKind(api::KindOf(manifests->docs[i]));
      auto projection = api::ProjectExecutionScope(*kind, *api::PodSpecOf(*kind, manifests->docs[i]));
      auto canonical = crypto::Canonicalize(*projection);
      std::cout << *canonical << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterDigest(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<DigestOptions>();
  auto* cmd = app.add_subcommand("digest", "Print the execution-scope digest of each document");
  cmd->add_option("-f,--filename", o->file, "manifest file, or - for standard input")->required();
  cmd->add_flag("--explain", o->explain, "also print the canonical projection that is hashed");
  cmd->callback([o, exit_code] { *exit_code = RunDigest(*o); });
}

}  // namespace execgov::cmd
