// The artifact: a compact JWS (crypto::ParseJws) and the claims in it, read
// by Decide on the captured Job with the token as its annotation; and the
// strict JSON parser the header and claims go through, on the raw bytes:
// whatever it accepts must canonicalize (RFC 8785) to a text it accepts
// again and that canonicalizes to itself.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

#include "api/object.h"
#include "crypto/json.h"
#include "crypto/jws.h"
#include "fuzz/fuzz_policy.h"

using namespace execgov;

namespace {

// request.object of the captured job-create.json.
const nlohmann::json& CapturedJob() {
  static const nlohmann::json* job = [] {
    std::ifstream in(std::string(EXECGOV_SOURCE_DIR) + "/tests/unit/webhook/testdata/apiserver/job-create.json");
    std::stringstream text;
    text << in.rdbuf();
    return new nlohmann::json(nlohmann::json::parse(text.str())["request"]["object"]);
  }();
  return *job;
}

void CheckCanonicalRoundTrip(std::string_view text) {
  auto parsed = crypto::ParseJsonStrict(text);
  if (!parsed.ok()) return;
  auto canonical = crypto::Canonicalize(*parsed);
  if (!canonical.ok()) return;  // NaN or an infinity cannot be written
  auto again = crypto::ParseJsonStrict(*canonical);
  if (!again.ok()) {
    std::fprintf(stderr, "the canonical form %s is refused: %s\n", canonical->c_str(), again.status().ToString().c_str());
    std::abort();
  }
  auto twice = crypto::Canonicalize(*again);
  if (!twice.ok() || *twice != *canonical) {
    std::fprintf(stderr, "canonicalization is not idempotent: %s\n", canonical->c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view token(reinterpret_cast<const char*>(data), size);
  crypto::ParsedJws jws;
  crypto::JwsParseResult r = crypto::ParseJws(token, &jws);
  if (r.failure == crypto::JwsFailure::kNone && (!jws.header.is_object() || !jws.claims.is_object())) {
    std::fprintf(stderr, "ParseJws accepted a header or claims that is not an object\n");
    std::abort();
  }

  nlohmann::json job = CapturedJob();
  job["metadata"]["annotations"][std::string(api::kArtifactAnnotation)] = std::string(token);
  policy::AdmissionAttributes a;
  a.kind = "Job";
  a.ns = "agents";
  a.name = "rotate-payments";
  a.uid = api::UidOf(job);
  a.object = &job;
  a.user = "agent:bench";
  policy::Decision d = fuzz::DecideCaptured(a);
  if (d.allowed && !d.verified) {
    std::fprintf(stderr, "a Job allowed without a verified artifact: %s\n", d.message.c_str());
    std::abort();
  }

  CheckCanonicalRoundTrip(token);
  return 0;
}
