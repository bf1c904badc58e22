// Relayed requests (issue 20): a Job or Pod manifest POSTed to the
// authority's HTTPS endpoint under a rule that needs human approvals waits as
// an ExecutionRequest the authority creates on the caller's behalf, so the
// approvers find it where they find every other request (`execgov approve`,
// `kubectl get ereq`).
//
//   spec.initiator  the caller the TokenReview authenticated
//   spec.relay      {kind: Job | Pod, name}: what the artifact will be for
//   spec.template   the manifest's pod spec (and labels), as a Job template
//
// Why a marker and not impersonation: impersonating the caller would need
// RBAC `impersonate` on every user, which cannot be scoped to "whoever just
// authenticated" and would let the authority's service account act as
// anyone for anything. Instead an ExecutionPolicy names the users that may
// relay (spec.authorization.relayUsers) and the webhook lets them name
// another initiator only on a request carrying spec.relay, which never runs
// in the cluster: the webhook refuses any artifact on it (CREATE or the
// attaching UPDATE), so the operator never makes a Job for it. When the
// approvals are in, the authority signs an artifact for the relayed kind and
// name, scoped to the digest of the manifest rebuilt from the request (the
// pod spec the approvers approved), records the grant, and moves the request
// to phase Granted; the caller collects the artifact by polling with the
// same bearer token and submits the Job or Pod themselves.
//
// Everything here is pure: no I/O.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "authority/authority_policy.h"
#include "core/status.h"

namespace execgov::authority {

// The final phase of a relayed request whose artifact the authority granted:
// it went to the HTTPS caller; nothing runs from the request itself.
inline constexpr const char* kPhaseGranted = "Granted";

struct Relay {
  api::GovernedKind kind = api::GovernedKind::kJob;  // Job or Pod
  std::string name;
};

// spec.relay of an ExecutionRequest: nullopt when absent; InvalidArgument when
// present but not {kind: Job|Pod, name: a DNS-1123 subdomain}, and nothing
// else.
StatusOr<std::optional<Relay>> RelayOf(const nlohmann::json& request);

// What the AuthorityPolicy rules judge of an ExecutionRequest: its namespace,
// initiator and images, and its kind, which for a relayed request is the
// relayed kind (a rule covers those when its match.kinds names Job or Pod,
// as it does for the HTTPS endpoint's direct grants). A malformed spec.relay
// leaves the kind ExecutionRequest.
AuthorityRequest RequestFacts(const nlohmann::json& request);

// The ExecutionRequest that relays `manifest` (a Job or Pod, as
// ParseAuthorizeCall accepted it) for `initiator`, named by generateName
// after the manifest. Refused (InvalidArgument) when the pod spec cannot be
// carried unchanged: the rebuilt manifest's execution-scope digest must be
// the manifest's.
StatusOr<nlohmann::json> NewRelayedRequest(api::GovernedKind kind, const nlohmann::json& manifest,
                                           const std::string& initiator);

// The manifest a relayed request stands for, rebuilt from it: apiVersion,
// kind, metadata {name spec.relay.name, namespace, labels and annotations
// the template kept}, the spec. No artifact.
StatusOr<nlohmann::json> RelayedManifest(const nlohmann::json& request);

}  // namespace execgov::authority
