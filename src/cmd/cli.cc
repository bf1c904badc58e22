#include "cmd/cli.h"

#include <iostream>

#include "api/manifest.h"
#include "core/file.h"

namespace execgov::cmd {

int UsageError(const std::string& message) {
  std::cerr << "execgov: " << message << "\n";
  return kExitUsage;
}

StatusOr<Manifests> ReadManifests(const std::string& path) {
  EXECGOV_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string source = path == "-" ? "<stdin>" : path;
  EXECGOV_ASSIGN_OR_RETURN(auto docs, api::ParseManifests(text, source));
  if (docs.empty()) return InvalidArgument(source + ": no documents");
  return Manifests{std::move(docs), api::LooksLikeJson(text)};
}

}  // namespace execgov::cmd
