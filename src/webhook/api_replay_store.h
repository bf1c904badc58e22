// The replay store older versions shared between webhook replicas (before
// consumptions were recorded in the ledger, docs/design.md §4.3); the webhook
// now only reads it once at start (LoadInto) and the operator deletes what
// expired (PruneExpired), so the objects go away by themselves. Kept in the
// API server: a consumption is a ConfigMap in the install namespace named
// "execgov-jti-<first 40 hex of SHA-256(jti)>", labelled
// execgov.io/replay=true and execgov.io/namespace=<the consumer's namespace>
// (so what one namespace consumed can be listed and cleaned up), holding the
// jti, the consumer's kind, namespace, name and uid, and the expiry. Consume
// is a create-if-absent (POST): the API server admits exactly one create per
// name, so two replicas can never both admit one jti. A create that finds the
// name taken reads it: the same uid is a retry of our own consume (OK),
// another uid is AlreadyExists.
// Find reads from the API (never a cache), so a consumption made by another
// replica a moment ago is seen; a read that fails is reported as no
// consumption, which fails closed: a Consume then fails too, and an
// inheritor whose owner's consumption is not found is denied.
// Inherit adds "inheritor.<uid>" to the consumption's data with a JSON merge
// patch: the Job made from an ExecutionRequest must be recorded, because the
// Pods its controller makes name the Job, not the request, as their owner.
// A merge patch needs no resourceVersion, so the Pods of one Job inheriting
// at once never conflict; a patch of a consumption that does not exist is
// NotFound.
#pragma once

#include <memory>
#include <string>

#include "kube/client.h"
#include "webhook/replay_store.h"

namespace execgov::webhook {

class ApiReplayStore : public ReplayStore {
 public:
  ApiReplayStore(kube::Client* client, std::string install_namespace);

  std::optional<policy::Consumption> Find(const std::string& jti, const std::string& inheritor_uid) const override;
  Status Consume(const std::string& jti, const policy::Consumption& who, int64_t expires_at) override;
  Status Inherit(const std::string& jti, const std::string& uid) override;
  // Nothing in memory to prune; expired ConfigMaps are deleted by PruneExpired.
  void Prune(int64_t now) override;
  // Deletes consumptions that expired before `now` (the operator calls this
  // periodically; an expired artifact is refused before replay is checked).
  StatusOr<int> PruneExpired(int64_t now);
  // Copies every consumption unexpired at `now` into `store` as durable
  // (one LIST): how the webhook, which records consumptions in the ledger
  // since layout 2, keeps honouring those an older version kept here.
  // Returns how many.
  StatusOr<int> LoadInto(ReplayStore* store, int64_t now);

  // The ConfigMap name for a jti.
  static std::string ObjectName(const std::string& jti);

 private:
  kube::Client* client_;
  std::string namespace_;
};

}  // namespace execgov::webhook
