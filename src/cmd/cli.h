// Shared pieces of the execgov command line: exit codes (docs/design.md §9.1), one-line
// error reporting, and manifest input. Only cmd/ includes this.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/json.h"

namespace execgov::cmd {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDenied = 1;  // denied, or verification failed
inline constexpr int kExitUsage = 2;   // usage or I/O error

// Prints "execgov: <message>" on stderr and returns kExitUsage.
int UsageError(const std::string& message);

struct Manifests {
  std::vector<nlohmann::json> docs;
  bool was_json = false;
};
// Reads YAML or JSON manifests from a path or "-" (stdin).
StatusOr<Manifests> ReadManifests(const std::string& path);

// The ledger URL of an in-cluster command (webhook, operator): --ledger, or
// by default the ConfigMap ledger in the install namespace; a ConfigMap
// ledger reaches the API server through the command's own --kubeconfig.
std::string ClusterLedgerUrl(const std::string& ledger_flag, const std::string& install_namespace,
                             const std::string& kubeconfig);

// Each subcommand registers itself and stores its exit code in *exit_code
// when it runs.
void RegisterKeygen(CLI::App& app, int* exit_code);
void RegisterSign(CLI::App& app, int* exit_code);
void RegisterDigest(CLI::App& app, int* exit_code);
void RegisterInspect(CLI::App& app, int* exit_code);
void RegisterCheck(CLI::App& app, int* exit_code);
void RegisterServe(CLI::App& app, int* exit_code);
void RegisterReview(CLI::App& app, int* exit_code);
void RegisterLedger(CLI::App& app, int* exit_code);
void RegisterWitness(CLI::App& app, int* exit_code);
void RegisterWebhook(CLI::App& app, int* exit_code);
void RegisterOperator(CLI::App& app, int* exit_code);
void RegisterAuthority(CLI::App& app, int* exit_code);
void RegisterApprove(CLI::App& app, int* exit_code);  // approve and deny
void RegisterConsole(CLI::App& app, int* exit_code);

}  // namespace execgov::cmd
