// execgov approve / execgov deny NAMESPACE/NAME (issue 20): one person's
// decision on an ExecutionRequest that an AuthorityPolicy rule holds for
// human approval, made as the kubeconfig's user. Creates an
// ExecutionApproval (authority/approval.h) naming the request by uid and by
// its current execution-scope digest, and the approver by the name the API
// server authenticates the user as (a SelfSubjectReview): the name the
// webhook checks. Also `kubectl execgov approve ...` through the
// kubectl-execgov link installed with the binary.
#include <iostream>

#include "api/object.h"
#include "authority/approval.h"
#include "cmd/cli.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"

namespace execgov::cmd {
namespace {

struct ApproveOptions {
  std::string kubeconfig, target, reason;
};

// The user the API server authenticates this client as.
StatusOr<std::string> WhoAmI(kube::Client& client) {
  const nlohmann::json review = {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}};
  EXECGOV_ASSIGN_OR_RETURN(nlohmann::json answer,
                           client.Create("/apis/authentication.k8s.io/v1/selfsubjectreviews", review));
  std::string user = api::StringAt(answer, {"status", "userInfo", "username"});
  if (user.empty()) return Internal("the SelfSubjectReview names no user");
  return user;
}

int RunApprove(const ApproveOptions& o, bool approve) {
  const auto slash = o.target.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == o.target.size() ||
      o.target.find('/', slash + 1) != std::string::npos) {
    return UsageError("name the request as NAMESPACE/NAME, not \"" + o.target + "\"");
  }
  const std::string ns = o.target.substr(0, slash), name = o.target.substr(slash + 1);
  if (!api::IsDns1123Subdomain(name) || !api::IsDns1123Subdomain(ns)) {
    return UsageError("\"" + o.target + "\" is not NAMESPACE/NAME of an ExecutionRequest");
  }
  if (!approve && o.reason.empty()) return UsageError("deny needs --reason: the initiator is told why");
  if (o.reason.size() > authority::kMaxApprovalReasonBytes) {
    return UsageError("--reason is longer than " + std::to_string(authority::kMaxApprovalReasonBytes) + " bytes");
  }
  auto config = kube::DefaultRestConfig(o.kubeconfig);
  if (!config.ok()) return UsageError("--kubeconfig: " + config.status().message());
  kube::ClientOptions client_options;
  client_options.max_attempts = 2;
  auto client = kube::NewClient(*config, client_options);
  if (!client.ok()) return UsageError(client.status().message());

  const std::string api_version(api::kApiVersion);
  auto request = (*client)->Get(kube::ResourcePath(api_version, "executionrequests", ns, name));
  if (!request.ok()) return UsageError("ExecutionRequest " + o.target + ": " + request.status().message());
  auto user = WhoAmI(**client);
  if (!user.ok()) return UsageError("cannot tell who you are (SelfSubjectReview): " + user.status().message());
  auto approval = authority::NewApproval(*request, approve, *user, o.reason);
  if (!approval.ok()) {
    if (approval.status().code() == StatusCode::kFailedPrecondition) {  // not waiting
      std::cerr << "execgov: ExecutionRequest " << approval.status().message() << "\n";
      return kExitDenied;
    }
    return UsageError("ExecutionRequest " + o.target + ": " + approval.status().message());
  }
  const std::string digest = (*approval)["spec"].value("requestDigest", "");
  auto created = (*client)->Create(kube::ResourcePath(api_version, authority::kApprovalResource, ns), *approval);
  if (!created.ok()) {
    std::cerr << "execgov: the " << (approve ? "approval" : "denial") << " was refused: " << created.status().message()
              << "\n";
    return kExitDenied;
  }
  std::cout << "executionapproval " << ns << "/" << api::NameOf(*created) << " created: " << *user << " "
            << (approve ? "approves" : "denies") << " " << o.target << " (" << digest << ")\n";
  return kExitOk;
}

void AddApproveCommand(CLI::App& app, int* exit_code, bool approve) {
  auto o = std::make_shared<ApproveOptions>();
  auto* cmd = app.add_subcommand(approve ? "approve" : "deny",
                                 approve ? "Approve an ExecutionRequest held for human approval, as yourself"
                                         : "Deny an ExecutionRequest held for human approval, as yourself");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("request", o->target, "NAMESPACE/NAME of the ExecutionRequest")->required();
  cmd->add_option("--reason", o->reason, approve ? "why (recorded in the ledger)" : "why (required; recorded in the ledger)");
  cmd->add_option("--kubeconfig", o->kubeconfig, "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)");
  cmd->callback([o, exit_code, approve] { *exit_code = RunApprove(*o, approve); });
}

}  // namespace

void RegisterApprove(CLI::App& app, int* exit_code) {
  AddApproveCommand(app, exit_code, true);
  AddApproveCommand(app, exit_code, false);
}

}  // namespace execgov::cmd
