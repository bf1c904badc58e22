// ExecutionPolicies from the API, compiled into the PolicySet snapshot the
// webhook and the operator decide with (docs/design.md §5). Fed by informers on
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

#include <atomic>
#include <functional>
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

// Selects the Secrets and ConfigMaps the key informers cache: the install
// namespace also holds the ledger's segments and the replay store's
// consumptions, which change on every admission, can be large, and never
// hold keys. Give it to the Secret and ConfigMap informers' options.
inline constexpr char kKeySourceLabelSelector[] = "!execgov.io/ledger,!execgov.io/replay";

// Finds a Secret or ConfigMap of the install namespace by kind and name
// (null when there is none).
using KeySourceFinder = std::function<runtime::ObjectPtr(const std::string& kind, const std::string& name)>;

// Resolves a publicKeyRef {kind, namespace, name, key}: the namespace must be
// the install namespace (any other is an error saying so), the object must
// exist and hold the key (a Secret's data is base64, a ConfigMap's data is
// text and its binaryData base64).
policy::KeyRefResolver MakeKeyRefResolver(std::string install_namespace, KeySourceFinder find);

// The pure part of a rebuild, apart from the informers so that it can be
// unit-tested with objects made by hand. Not thread-safe: ClusterPolicies
// serializes it.
class PolicyCompiler {
 public:
  // Compiles every ExecutionPolicy in `objects` and returns what to enforce,
  // sorted by name: a policy's new compilation when it compiled, else its
  // last good one, else nothing. Policies missing from `objects` (deleted)
  // are forgotten. Each result says how the current generation compiled.
  std::vector<std::shared_ptr<const policy::CompiledPolicy>> Compile(const std::vector<runtime::ObjectPtr>& objects,
                                                                      const policy::KeyRefResolver& resolver);
  std::optional<PolicyCompileResult> Result(const std::string& name) const;
  const std::map<std::string, PolicyCompileResult>& results() const { return results_; }

 private:
  std::map<std::string, PolicyCompileResult> results_;
  std::map<std::string, std::shared_ptr<const policy::CompiledPolicy>> last_good_;
};

class ClusterPolicies {
 public:
  // The informers must outlive this object; Register() before they start.
  ClusterPolicies(runtime::Informer* policies, runtime::Informer* secrets, runtime::Informer* configmaps,
                  std::string install_namespace, metrics::Metrics* metrics = nullptr);
  void Register();

  // The current snapshot; ready once all three informers have synced. Safe
  // from any thread; cheap (the hot path calls it per request).
  std::shared_ptr<const policy::PolicySet> Current() const;
  // The compile result of one policy's current generation; nullopt when the
  // policy is not in the cache.
  std::optional<PolicyCompileResult> Result(const std::string& name) const;
  // Rebuilds now (the handlers call this; tests may too).
  void Rebuild();

 private:
  bool Synced() const;

  runtime::Informer* policies_;
  runtime::Informer* secrets_;
  runtime::Informer* configmaps_;
  std::string install_namespace_;
  metrics::Metrics* metrics_;
  mutable std::mutex mu_;  // serializes rebuilds; guards compiler_ and version_
  std::atomic<std::shared_ptr<const policy::PolicySet>> current_;
  PolicyCompiler compiler_;
  uint64_t version_ = 0;
};

}  // namespace execgov::controllers
