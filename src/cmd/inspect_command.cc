// execgov inspect: decodes an artifact's header and claims for a person to
// read. Nothing is verified, and the output says so.
#include <iostream>

#include "api/object.h"
#include "cmd/cli.h"
#include "crypto/jws.h"

namespace execgov::cmd {
namespace {

struct InspectOptions {
  std::string artifact, file;
};

int InspectOne(const std::string& token, const std::string& where) {
  crypto::ParsedJws jws;
  auto r = crypto::ParseJws(token, &jws);
  if (r.failure != crypto::JwsFailure::kNone) return UsageError(where + r.message);
  nlohmann::json out = {{"verified", false},
                        {"note", "decoded only: the signature, keys and policy were NOT checked (use execgov check)"},
                        {"header", jws.header},
                        {"claims", jws.claims}};
  std::cout << out.dump(2) << "\n";
  return kExitOk;
}

int RunInspect(const InspectOptions& o) {
  if (o.artifact.empty() == o.file.empty()) return UsageError("inspect takes an ARTIFACT or -f MANIFEST, not both");
  if (!o.artifact.empty()) return InspectOne(o.artifact, "");
  auto manifests = ReadManifests(o.file);
  if (!manifests.ok()) return UsageError(manifests.status().message());
  for (size_t i = 0; i < manifests->docs.size(); ++i) {
    std::string where = "document " + std::to_string(i + 1) + ": ";
    auto token = api::ArtifactOf(manifests->docs[i]);
    if (!token) return UsageError(where + "no " + std::string(api::kArtifactAnnotation) + " annotation");
    int rc = InspectOne(*token, where);
    if (rc != kExitOk) return rc;
  }
  return kExitOk;
}

}  // namespace

void RegisterInspect(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand("inspect", "Decode an artifact's header and claims (unverified)");
  cmd->add_option("artifact", o->artifact, "the JWS compact string");
  cmd->add_option("-f,--filename", o->file, "a manifest carrying the annotation, or -");
  cmd->callback([o, exit_code] { *exit_code = RunInspect(*o); });
}

}  // namespace execgov::cmd
