// The authority controller's caches for its unit tests: informers over a
// kube::Client for ExecutionRequests, AuthorityPolicies and
// ExecutionPolicies, started and synced, and deps pointing at them.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "authority/authority_controller.h"
#include "kube/client.h"
#include "runtime/informer.h"

namespace execgov::authority {

class AuthorityCaches {
 public:
  ~AuthorityCaches() { Stop(); }
  // False when one of them does not sync within 10 s.
  bool Start(kube::Client* client) {
    Stop();
    client_ = client;
    for (const char* r : {"executionrequests", "authoritypolicies", "executionpolicies"}) {
      informers_.push_back(std::make_unique<runtime::Informer>(client, kube::ResourcePath("execgov.io/v1alpha1", r)));
      informers_.back()->Start();
      if (!informers_.back()->WaitForSync(std::chrono::seconds(10))) return false;
    }
    return true;
  }
  void Stop() {
    for (auto& i : informers_) i->Stop();
    informers_.clear();
  }
  // The client and the three caches; the rest is the test's.
  AuthorityControllerDeps Deps() const {
    AuthorityControllerDeps deps;
    deps.client = client_;
    deps.requests = informers_.at(0).get();
    deps.authority_policies = informers_.at(1).get();
    deps.execution_policies = informers_.at(2).get();
    return deps;
  }

 private:
  kube::Client* client_ = nullptr;
  std::vector<std::unique_ptr<runtime::Informer>> informers_;
};

}  // namespace execgov::authority
