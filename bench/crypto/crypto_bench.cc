// Signatures and whole decisions per second on one core. Run through
// bench/crypto/run.sh, which prints `openssl speed` from the same machine and
// the same moment beside these figures.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "api/execution_scope.h"
#include "api/object.h"
#include "bench/rate.h"
#include "crypto/jws.h"
#include "crypto/keys.h"
#include "policy/decision.h"
#include "policy/policy.h"
#include "support/artifact_factory.h"

namespace {

using namespace execgov;
using bench::Rate;

volatile bool g_sink;

// A signature cache that holds everything: what a warm LruSignatureCache is
// to the Pods of one Job.
class HoldAll : public policy::SignatureCache {
 public:
  bool Contains(const std::string& key, int64_t) const override { return keys_.count(key) > 0; }
  void Insert(const std::string& key, int64_t) override { keys_.insert(key); }

 private:
  std::set<std::string> keys_;
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  std::printf("%-34s %14s\n", "execgov (one core)", "ops/s");
  for (auto alg : {crypto::KeyAlgorithm::kEd25519, crypto::KeyAlgorithm::kES256}) {
    auto authority = testing::Authority::Make(alg, "ops-authority", "ops-1");
    std::string name = crypto::KeyAlgorithmName(alg);
    // A realistic signing input: an artifact's header.payload.
    nlohmann::json job = testing::MakeJob("agents", "rotate");
    std::string token = testing::Sign(testing::ClaimsFor(job, authority, std::time(nullptr)), authority);
    crypto::ParsedJws jws;
    crypto::ParseJws(token, &jws);
    crypto::PublicKey pub = authority.key.Public();
    auto sign_op = [&](size_t) { g_sink = authority.key.Sign(jws.signing_input).ok(); };
    auto verify_op = [&](size_t) { g_sink = pub.Verify(jws.signing_input, jws.signature); };

    // Full decisions, each on a fresh artifact (no cache, distinct jti).
    auto compiled = policy::CompilePolicy(testing::MakePolicy("default", {&authority}));
    policy::PolicySet set;
    set.policies.push_back(*compiled);
    set.ready = true;
    std::vector<nlohmann::json> objects;
    int64_t now = std::time(nullptr);
    for (int i = 0; i < 4096; ++i) {
      objects.push_back(testing::WithArtifact(job, testing::Sign(testing::ClaimsFor(job, authority, now), authority)));
    }
    HoldAll cache;
    // One artifact over and over, its signature cached: the Pods of one Job
    // (what remains is parsing, the digest and the checks around them).
    auto decide = [&](const nlohmann::json& obj, policy::SignatureCache* c) {
      policy::AdmissionAttributes a;
      a.kind = "Job";
      a.ns = "agents";
      a.name = "rotate";
      a.uid = "u";
      a.object = &obj;
      a.user = "agent:test";
      policy::DecisionInputs in;
      in.policies = &set;
      in.now = now;
      in.signature_cache = c;
      return policy::Decide(a, in).allowed;
    };
    auto decide_op = [&](size_t i) { g_sink = decide(objects[i % objects.size()], nullptr); };
    auto cached_op = [&](size_t) { g_sink = decide(objects[0], &cache); };
    if (!decide(objects[0], &cache) || !decide(objects[0], &cache)) {
      std::fprintf(stderr, "the benchmark's decision is not an allow\n");
      return 1;
    }
    // Alternate the figures over several rounds and keep each one's best, so
    // that load from other processes skews them alike rather than one alone.
    double sign = 0, verify = 0, decided = 0, cached = 0;
    for (int round = 0; round < 3; ++round) {
      sign = std::max(sign, Rate(seconds / 3, sign_op));
      verify = std::max(verify, Rate(seconds / 3, verify_op));
      decided = std::max(decided, Rate(seconds / 3, decide_op));
      cached = std::max(cached, Rate(seconds / 3, cached_op));
    }
    double parse = Rate(seconds / 3, [&](size_t i) {
      crypto::ParsedJws p;
      g_sink = crypto::ParseJws(*api::ArtifactOf(objects[i % objects.size()]), &p).failure == crypto::JwsFailure::kNone;
    });
    double digest = Rate(seconds / 3, [&](size_t i) { g_sink = api::ExecutionScopeDigest(objects[i % objects.size()]).ok(); });
    std::printf("%-34s %14.0f\n", (name + " parse artifact").c_str(), parse);
    std::printf("%-34s %14.0f\n", "execution-scope digest", digest);
    std::printf("%-34s %14.0f\n", (name + " sign").c_str(), sign);
    std::printf("%-34s %14.0f\n", (name + " verify").c_str(), verify);
    std::printf("%-34s %14.0f   (%.0f%% of verify)\n", (name + " full check decision").c_str(), decided,
                100.0 * decided / verify);
    std::printf("%-34s %14.0f\n", (name + " decision, signature cached").c_str(), cached);
  }
  return 0;
}
