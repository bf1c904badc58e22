// execgov review: wraps each manifest in an AdmissionReview v1 request as the
// API server would send it, for trying a webhook with curl and for load tests:
//   execgov review -f job.yaml |
//     curl --cacert ca.crt -H 'Content-Type: application/json' --data @- https://127.0.0.1:8443/validate
#include <iostream>

#include "api/object.h"
#include "cmd/cli.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"

namespace execgov::cmd {
namespace {

struct ReviewOptions {
  std::string file, user = "kubernetes-admin", operation = "CREATE", uid;
  bool dry_run = false;
};

int RunReview(const ReviewOptions& o) {
  if (o.operation != "CREATE" && o.operation != "UPDATE" && o.operation != "DELETE") {
    return UsageError("--operation: \"" + o.operation + "\" is not CREATE, UPDATE or DELETE");
  }
  auto manifests = ReadManifests(o.file);
  if (!manifests.ok()) return UsageError(manifests.status().message());
  for (auto& doc : manifests->docs) {
    std::string api_version = api::StringAt(doc, {"apiVersion"});
    size_t slash = api_version.find('/');
    std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
    std::string kind = api::KindOf(doc);
    // The webhook governs by request.resource, as the API server sends it:
    // pods, jobs, executionrequests (the kind, lower case, plural).
    std::string resource = kind;
    for (auto& c : resource) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    resource += "s";
    // The API server assigns the uid before validating admission runs.
    std::string object_uid = o.uid.empty() ? crypto::HexEncode(crypto::RandomBytes(16)) : o.uid;
    if (api::UidOf(doc).empty()) doc["metadata"]["uid"] = object_uid;
    nlohmann::json request = {
        {"uid", crypto::HexEncode(crypto::RandomBytes(16))},
        {"kind", {{"group", group}, {"version", version}, {"kind", kind}}},
        {"resource", {{"group", group}, {"version", version}, {"resource", resource}}},
        {"requestKind", {{"group", group}, {"version", version}, {"kind", kind}}},
        {"requestResource", {{"group", group}, {"version", version}, {"resource", resource}}},
        {"name", api::NameOf(doc)},
        {"namespace", api::NamespaceOf(doc)},
        {"operation", o.operation},
        {"userInfo", {{"username", o.user}, {"groups", {"system:authenticated"}}}},
        {"dryRun", o.dry_run},
    };
    if (o.operation == "DELETE") request["oldObject"] = doc;
    else request["object"] = doc;
    if (o.operation == "UPDATE") request["oldObject"] = doc;
    std::cout << nlohmann::json{{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"request", request}}.dump()
              << "\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterReview(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ReviewOptions>();
  auto* cmd = app.add_subcommand("review", "Wrap manifests in AdmissionReview requests (for curl and load tests)");
  cmd->add_option("-f,--filename", o->file, "manifest file, or - for standard input")->required();
  cmd->add_option("--user", o->user, "the requesting user")->capture_default_str();
  cmd->add_option("--operation", o->operation, "CREATE, UPDATE or DELETE")->capture_default_str();
  cmd->add_option("--uid", o->uid, "metadata.uid for objects without one (default: random)");
  cmd->add_flag("--dry-run", o->dry_run, "mark the request dryRun");
  cmd->callback([o, exit_code] { *exit_code = RunReview(*o); });
}

}  // namespace execgov::cmd
