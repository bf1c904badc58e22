// ExecutionPolicies from the API, compiled into the PolicySet snapshot the
// webhook and the operator decide with (DESIGN §5). Fed by informers on
// ExecutionPolicies and on the Secrets and ConfigMaps of the install
// namespace (where publicKeyRefs may point; a ref to another namespace is a
// compile error naming the field). Any change rebuilds the snapshot, which is
// swapped atomically.
//
// A policy that fails to compile keeps its last good compilation active (a
// bad edit never loosens or drops enforcement); one that never compiled is
// left out, and a governed namespace no policy matches is denied
// (NoMatchingPolicy), so a broken policy never opens a hole. The snapshot is
// not ready (PolicyNotReady) until every informer has synced.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "metrics/metrics.h"
#include "policy/policy.h"
#include "runtime/informer.h"

namespace execgov::controllers {

// How one ExecutionPolicy compiled at its current generation: what the
// policy reconciler writes into status.
struct PolicyCompileResult {
  std::string name;
  int64_t generation = 0;
  Status status;        // OK, or the first error ("spec.issuers[0].keys[0].publicKey: ...")
  size_t keys = 0;      // keys loaded, when OK
  std::string summary;  // "1 issuer, 2 keys", when OK
};

class ClusterPolicies {
 public:
  // The informers must outlive this object; Register() before they start.
  ClusterPolicies(runtime::Informer* policies, runtime::Informer* secrets, runtime::Informer* configmaps,
                  std::string install_namespace, metrics::Metrics* metrics = nullptr);
  void Register();

  // The current snapshot; ready once all three informers have synced.
  std::shared_ptr<const policy::PolicySet> Current() const;
  // The compile result of one policy's current generation; nullopt when the
  // policy is not in the cache.
  std::optional<PolicyCompileResult> Result(const std::string& name) const;
  // Rebuilds now (the handlers call this; tests may too).
  void Rebuild();

 private:
  runtime::Informer* policies_;
  runtime::Informer* secrets_;
  runtime::Informer* configmaps_;
  std::string install_namespace_;
  metrics::Metrics* metrics_;
  mutable std::mutex mu_;
  std::shared_ptr<const policy::PolicySet> current_;
  std::map<std::string, PolicyCompileResult> results_;
  std::map<std::string, std::shared_ptr<const policy::CompiledPolicy>> last_good_;
  uint64_t version_ = 0;
};

}  // namespace execgov::controllers
