// The claims of an authorization artifact as ledger records carry them
// (docs/design.md §7.1: iss, sub, kid, jti, scope digest, parent, intent — never the
// signature), read without verifying it. For records about objects the
// webhook already admitted: a derived admission record, an execution step
// after the request was verified.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "policy/decision.h"

namespace execgov::controllers {

// nullopt when the token is not a JWS with a JSON object payload. Missing
// claims read as empty.
std::optional<policy::ArtifactFacts> UnverifiedFacts(const std::string& token);

// {"iss", "sub", "kid", "jti", "digest"}: the record's `artifact` member, in
// the same shape as the webhook's admission records.
nlohmann::json ArtifactRecord(const policy::ArtifactFacts& facts);

}  // namespace execgov::controllers
